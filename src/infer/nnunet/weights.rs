//! `fold_K/checkpoint_final.pth` → the weights of unet3d's network.
//!
//! The checkpoint is a `torch.save` zip whose `network_weights` entry is the `PlainConvUNet`
//! state dict; burn's `pytorch-reader` reads it (bounded, tolerant of the Python objects around
//! it). Every parameter appears under several names sharing one storage (`…conv.*` and
//! `…all_modules.0.*`, the whole encoder again under `decoder.encoder.*`): each is loaded once
//! from its canonical name and the aliases are checked to hold the same values.
//!
//! Mapping, with S stages (unet3d depth = S − 1):
//! - `encoder.stages.s.0.convs.{0,1}` → `encoder[s].{first,second}` (s < S − 1), `bottom` (s = S − 1);
//! - `decoder.transpconvs.t` / `decoder.stages.t.convs.{0,1}` → `decoder[S − 2 − t].{up,convs}`;
//! - `decoder.seg_layers.{S − 2}` → `head`; `seg_layers.t` (t < S − 2) → `aux_heads[S − 3 − t]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::Param;
use burn::nn::conv::{Conv3d, ConvTranspose3d};
use burn::prelude::*;
use pytorch_reader::{DType, PytorchReader};

use crate::error::{Error, Result};
use crate::model::{ConvBlock, DoubleConv, NormLayer, UNet3d, UNet3dConfig};

/// Largest checkpoint read (nnU-Net's largest default plans are a few hundred MB).
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// What a fold's checkpoint says besides its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointMeta {
    pub trainer: String,
    pub configuration: Option<String>,
    /// `inference_allowed_mirroring_axes` (`None`: the trainer allows no mirroring).
    pub mirror_axes: Option<Vec<usize>>,
}

/// Reads the checkpoint's metadata (the small Python values, not the weights).
pub fn read_meta(path: &Path) -> Result<CheckpointMeta> {
    check_size(path)?;
    use pytorch_reader::PickleValue as P;
    let get = |key: &str| PytorchReader::read_pickle_data(path, Some(key)).ok();
    // nnU-Net v2 writes `trainer_name` into every checkpoint: a file without a readable one is
    // damaged or something else, and its other entries cannot be trusted either.
    let trainer = match PytorchReader::read_pickle_data(path, Some("trainer_name")) {
        Ok(P::String(s)) => s,
        Ok(other) => {
            return Err(Error::invalid(
                path,
                format!("trainer_name is {other:?}, not a string"),
            ));
        }
        Err(e) => {
            return Err(Error::invalid(
                path,
                format!("not a readable nnU-Net v2 checkpoint (its trainer_name entry: {e})"),
            ));
        }
    };
    let configuration = match get("init_args") {
        Some(P::Dict(d)) => match d.get("configuration") {
            Some(P::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    let mirror_axes = match get("inference_allowed_mirroring_axes") {
        Some(P::List(items)) => {
            let axes: Option<Vec<usize>> = items
                .iter()
                .map(|v| match v {
                    P::Int(a) if (0..3).contains(a) => Some(*a as usize),
                    _ => None,
                })
                .collect();
            Some(axes.ok_or_else(|| {
                Error::invalid(
                    path,
                    format!("inference_allowed_mirroring_axes {items:?} must be axes 0..2"),
                )
            })?)
        }
        _ => None,
    };
    Ok(CheckpointMeta {
        trainer,
        configuration,
        mirror_axes,
    })
}

fn check_size(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(path, "not a regular file"));
    }
    if meta.len() > MAX_CHECKPOINT_BYTES {
        return Err(Error::invalid(
            path,
            format!(
                "checkpoint of {} bytes exceeds the limit of {MAX_CHECKPOINT_BYTES}",
                meta.len()
            ),
        ));
    }
    Ok(())
}

/// A float32 tensor from the state dict.
struct Weight {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// The network of `config` with the weights of the checkpoint at `path`.
pub fn load_network(path: &Path, config: &UNet3dConfig, device: &Device) -> Result<UNet3d> {
    check_size(path)?;
    let reader = PytorchReader::with_top_level_key(path, "network_weights").map_err(|e| {
        Error::invalid(
            path,
            format!("not an nnU-Net checkpoint (network_weights): {e}"),
        )
    })?;
    let mut weights = BTreeMap::new();
    for (name, tensor) in reader.tensors() {
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        if tensor.dtype() != DType::F32 {
            return Err(Error::invalid(
                path,
                format!("{name} is {:?}; float32 weights expected", tensor.dtype()),
            ));
        }
        let bytes = tensor
            .read()
            .map_err(|e| Error::invalid(path, e.to_string()))?;
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        weights.insert(
            name.clone(),
            Weight {
                shape: tensor.shape().to_vec(),
                values,
            },
        );
    }
    let mut model = config.init(device)?;
    let mut map = Mapper {
        path,
        weights: &weights,
        used: BTreeSet::new(),
        device,
    };
    let stages = config.depth + 1;
    for s in 0..stages {
        let prefix = format!("encoder.stages.{s}.0.convs");
        let target = if s < config.depth {
            &mut model.encoder[s]
        } else {
            &mut model.bottom
        };
        map.double_conv(&prefix, target)?;
    }
    for t in 0..config.depth {
        let level = config.depth - 1 - t;
        let up = &mut model.decoder[level];
        map.conv_transpose(&format!("decoder.transpconvs.{t}"), &mut up.up)?;
        map.double_conv(&format!("decoder.stages.{t}.convs"), &mut up.convs)?;
    }
    map.conv(
        &format!("decoder.seg_layers.{}", config.depth - 1),
        &mut model.head,
    )?;
    for (i, head) in model.aux_heads.iter_mut().enumerate() {
        // aux_heads[i] works at level i + 1, nnU-Net's seg_layers[S − 3 − i].
        map.conv(
            &format!("decoder.seg_layers.{}", config.depth - 2 - i),
            head,
        )?;
    }
    map.check_rest()?;
    Ok(model)
}

struct Mapper<'a> {
    path: &'a Path,
    weights: &'a BTreeMap<String, Weight>,
    used: BTreeSet<String>,
    device: &'a Device,
}

impl Mapper<'_> {
    fn take<const D: usize>(&mut self, name: &str, want: [usize; D]) -> Result<Tensor<D>> {
        let w = self.weights.get(name).ok_or_else(|| {
            Error::invalid(
                self.path,
                format!("network_weights has no {name} (the plans and the checkpoint disagree)"),
            )
        })?;
        if w.shape != want {
            return Err(Error::invalid(
                self.path,
                format!(
                    "{name} has shape {:?}, the plans' network needs {want:?}",
                    w.shape
                ),
            ));
        }
        self.used.insert(name.to_string());
        Ok(Tensor::from_data(
            TensorData::new(w.values.clone(), want),
            self.device,
        ))
    }

    fn conv(&mut self, prefix: &str, conv: &mut Conv3d) -> Result<()> {
        self.weight_and_bias(prefix, &mut conv.weight, &mut conv.bias)
    }

    fn conv_transpose(&mut self, prefix: &str, conv: &mut ConvTranspose3d) -> Result<()> {
        self.weight_and_bias(prefix, &mut conv.weight, &mut conv.bias)
    }

    /// `{prefix}.weight` and, where the layer has one, `{prefix}.bias`.
    fn weight_and_bias(
        &mut self,
        prefix: &str,
        weight: &mut Param<Tensor<5>>,
        bias: &mut Option<Param<Tensor<1>>>,
    ) -> Result<()> {
        *weight = Param::from_tensor(self.take(&format!("{prefix}.weight"), weight.dims())?);
        if let Some(b) = bias {
            *b = Param::from_tensor(self.take(&format!("{prefix}.bias"), b.dims())?);
        }
        Ok(())
    }

    fn block(&mut self, prefix: &str, block: &mut ConvBlock) -> Result<()> {
        self.conv(&format!("{prefix}.conv"), &mut block.conv)?;
        let NormLayer::Instance(norm) = &mut block.norm else {
            return Err(Error::config("nnU-Net networks use instance normalisation"));
        };
        for (key, param) in [("weight", &mut norm.gamma), ("bias", &mut norm.beta)] {
            if let Some(p) = param {
                *p = Param::from_tensor(self.take(&format!("{prefix}.norm.{key}"), p.dims())?);
            }
        }
        Ok(())
    }

    fn double_conv(&mut self, prefix: &str, convs: &mut DoubleConv) -> Result<()> {
        self.block(&format!("{prefix}.0"), &mut convs.first)?;
        self.block(&format!("{prefix}.1"), &mut convs.second)
    }

    /// Every weight not loaded must be an alias of one that was, with the same values.
    fn check_rest(&self) -> Result<()> {
        for (name, w) in self.weights {
            if self.used.contains(name) {
                continue;
            }
            let Some(canonical) = canonical_name(name) else {
                return Err(Error::invalid(
                    self.path,
                    format!(
                        "network_weights has {name}, which the plans' PlainConvUNet does not have"
                    ),
                ));
            };
            match self.weights.get(&canonical) {
                Some(c)
                    if self.used.contains(&canonical)
                        && c.shape == w.shape
                        && c.values == w.values => {}
                _ => {
                    return Err(Error::invalid(
                        self.path,
                        format!(
                            "{name} should be an alias of {canonical} and hold the same values, but does not"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The canonical name behind an alias: `decoder.encoder.X` → `encoder.X`,
/// `…all_modules.0.` → `…conv.`, `…all_modules.N.` (N ≥ 1: after an optional dropout) → `…norm.`.
fn canonical_name(name: &str) -> Option<String> {
    let mut n = name
        .strip_prefix("decoder.")
        .filter(|r| r.starts_with("encoder."))
        .unwrap_or(name)
        .to_string();
    if let Some(at) = n.find(".all_modules.") {
        let rest = &n[at + ".all_modules.".len()..];
        let (index, tail) = rest.split_once('.')?;
        let part = if index.parse::<usize>().ok()? == 0 {
            "conv"
        } else {
            "norm"
        };
        n = format!("{}.{part}.{tail}", &n[..at]);
    }
    (n != name).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::canonical_name;

    #[test]
    fn aliases_map_to_canonical_names() {
        assert_eq!(
            canonical_name("decoder.encoder.stages.0.0.convs.1.all_modules.0.weight").as_deref(),
            Some("encoder.stages.0.0.convs.1.conv.weight")
        );
        assert_eq!(
            canonical_name("decoder.stages.2.convs.0.all_modules.1.bias").as_deref(),
            Some("decoder.stages.2.convs.0.norm.bias")
        );
        assert_eq!(canonical_name("decoder.transpconvs.0.weight"), None);
    }
}
