//! The per-op half of [`super::profile`]: an [`OpTimer`] that times one op at a time on the
//! input the network hands it (forward only, or forward + backward of `sum(op(x))`), and a walk
//! of the U-Net that names and times every op as `benches/pytorch_peer.py --profile` names its
//! PyTorch counterpart.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::timing::measure;
use crate::error::Result;
use crate::model::pool::max_pool3d_with;
use crate::model::upsample::up_conv3d_with;
use crate::model::{ConvBlock, Downsample, UNet3d};
use crate::train::loss::deep_supervision_loss;

/// One op (or phase) and its median seconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpTime {
    pub op: String,
    /// Input shape `[batch, channels, d, h, w]` (empty for phases).
    pub shape: String,
    pub seconds: f64,
}

/// One table of the profile: its ops and the whole call they are part of, timed as a whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileSection {
    pub name: String,
    pub ops: Vec<OpTime>,
    /// Median seconds of the whole call (forward, step, pass) timed as one.
    pub whole_s: f64,
}

/// Times ops one at a time on the inputs the network gives them: forward only, or (`train`)
/// forward + backward of `sum(op(x))` with gradients for the inputs and the parameters.
pub(super) struct OpTimer {
    device: Device,
    reps: usize,
    train: bool,
    ops: Vec<OpTime>,
}

impl OpTimer {
    pub(super) fn new(device: &Device, reps: usize, train: bool) -> Self {
        OpTimer {
            device: device.clone(),
            reps,
            train,
            ops: Vec::new(),
        }
    }

    /// Times `f(inputs)` and returns its output (detached when training, so the next op's
    /// backward stops at its own input).
    pub(super) fn time(
        &mut self,
        op: &str,
        inputs: &[Tensor<5>],
        f: impl Fn(&[Tensor<5>]) -> Tensor<5>,
    ) -> Result<Tensor<5>> {
        let inputs: Vec<Tensor<5>> = if self.train {
            inputs
                .iter()
                .map(|t| t.clone().detach().require_grad())
                .collect()
        } else {
            inputs.to_vec()
        };
        let train = self.train;
        let m = measure(&self.device, 1, self.reps, None, || {
            let y = f(&inputs);
            if train {
                let _grads = y.sum().backward();
            }
            Ok(())
        })?;
        self.ops.push(OpTime {
            op: op.to_string(),
            shape: format!("{:?}", inputs[0].dims()),
            seconds: m.median(),
        });
        let y = f(&inputs);
        Ok(if train { y.detach() } else { y })
    }

    fn block(&mut self, name: &str, block: &ConvBlock, x: Tensor<5>) -> Result<Tensor<5>> {
        let [ci, co] = [block.conv.weight.dims()[1], block.conv.weight.dims()[0]];
        let k = block.conv.weight.dims()[2..].to_vec();
        let conv = format!("{name} conv {ci}->{co} k{}", kernel_name(&k));
        if block.fuses_norm(self.train) {
            return self.time(&format!("{conv} + norm + act (fused)"), &[x], |t| {
                block.forward(t[0].clone())
            });
        }
        let z = self.time(&conv, &[x], |t| block.conv_only(t[0].clone()))?;
        self.time(&format!("{name} norm + act"), &[z], |t| {
            block.norm_act(t[0].clone())
        })
    }

    pub(super) fn time_loss(
        &mut self,
        outputs: Vec<Tensor<5>>,
        labels: &[u8],
        pool_kernels: &[[usize; 3]],
        cfg: &crate::run::config::LossConfig,
    ) -> Result<()> {
        let shape = format!("{:?}", outputs[0].dims());
        let outputs: Vec<Tensor<5>> = outputs
            .into_iter()
            .map(|t| t.detach().require_grad())
            .collect();
        let n = outputs.len();
        let m = measure(&self.device, 1, self.reps, None, || {
            let loss = deep_supervision_loss(outputs.clone(), labels, pool_kernels, cfg)?;
            let _grads = loss.total.backward();
            Ok(())
        })?;
        self.ops.push(OpTime {
            op: format!("loss (CE + Dice, {n} outputs)"),
            shape,
            seconds: m.median(),
        });
        Ok(())
    }

    pub(super) fn section(self, name: &str, whole_s: f64) -> ProfileSection {
        ProfileSection {
            name: name.into(),
            ops: self.ops,
            whole_s,
        }
    }
}

fn kernel_name(k: &[usize]) -> String {
    if k.iter().all(|&v| v == k[0]) {
        k[0].to_string()
    } else {
        k.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("x")
    }
}

/// The network's forward, op by op (the full-resolution logits).
pub(super) fn walk(model: &UNet3d, x: Tensor<5>, t: &mut OpTimer, deep: bool) -> Result<Tensor<5>> {
    Ok(walk_outputs(model, x, t, deep)?.swap_remove(0))
}

pub(super) fn walk_deep(model: &UNet3d, x: Tensor<5>, t: &mut OpTimer) -> Result<Vec<Tensor<5>>> {
    walk_outputs(model, x, t, true)
}

/// As [`UNet3d::forward_deep`] (or `forward` without `deep`), timing each op.
fn walk_outputs(
    model: &UNet3d,
    x: Tensor<5>,
    t: &mut OpTimer,
    deep: bool,
) -> Result<Vec<Tensor<5>>> {
    model.check_input(x.dims())?;
    let mut x = x;
    let mut skips = Vec::new();
    for (l, convs) in model.encoder.iter().enumerate() {
        x = t.block(&format!("enc{l}.1"), &convs.first, x)?;
        x = t.block(&format!("enc{l}.2"), &convs.second, x)?;
        skips.push(x.clone());
        if model.downsample == Downsample::MaxPool {
            let k = model.pool_kernels[l];
            x = t.time(&format!("enc{l} max pool {}", kernel_name(&k)), &[x], |v| {
                max_pool3d_with(v[0].clone(), k, model.own_kernels())
            })?;
        }
    }
    x = t.block("bottom.1", &model.bottom.first, x)?;
    x = t.block("bottom.2", &model.bottom.second, x)?;
    let mut aux = Vec::new();
    for (l, (up, skip)) in model.decoder.iter().zip(skips).enumerate().rev() {
        let [ci, co] = [up.up.weight.dims()[0], up.up.weight.dims()[1]];
        let k = kernel_name(&up.up.weight.dims()[2..]);
        x = t.time(&format!("dec{l} up-conv {ci}->{co} k{k}"), &[x], |v| {
            let bias = up.up.bias.as_ref().map(|b| b.val());
            up_conv3d_with(v[0].clone(), up.up.weight.val(), bias, model.own_kernels())
        })?;
        x = t.time(&format!("dec{l} concat"), &[x, skip], |v| {
            if model.own_kernels() {
                crate::kernels::concat_channels(v[0].clone(), v[1].clone())
            } else {
                Tensor::cat(v.to_vec(), 1)
            }
        })?;
        x = t.block(&format!("dec{l}.1"), &up.convs.first, x)?;
        x = t.block(&format!("dec{l}.2"), &up.convs.second, x)?;
        if deep
            && l >= 1
            && let Some(head) = model.aux_heads.get(l - 1)
        {
            aux.push(t.time(&format!("dec{l} aux head"), &[x.clone()], |v| {
                model.head_forward(head, v[0].clone())
            })?);
        }
    }
    let mut outputs = vec![t.time("head 1x1x1", &[x], |v| {
        model.head_forward(&model.head, v[0].clone())
    })?];
    outputs.extend(aux.into_iter().rev());
    Ok(outputs)
}
