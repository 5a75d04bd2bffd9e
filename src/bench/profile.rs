//! `unet3d bench --profile`: where the time of one U-Net forward, one training step and one
//! sliding-window pass goes, op by op, on one target at the preset's shapes.
//!
//! - **forward**: every op of the inference forward (each conv by its channels and size, its norm
//!   and activation, pooling, up-convolution, concatenation, head, softmax), each timed alone on
//!   the input the network gives it;
//! - **training, per op**: the same ops (with the deep-supervision heads and the loss), each
//!   timed alone as forward + backward of `sum(op(x))` on the autodiff device;
//! - **training, phases**: one real step cut into forward, loss, backward, gradient collection
//!   and optimiser update;
//! - **sliding window, phases**: one pass over the bench volume, per phase of
//!   [`predict_probabilities_timed`].
//!
//! Op names are those `benches/pytorch_peer.py --bench-json` prints for PyTorch, so the two
//! tables line up. The sum of the ops against the whole measured call shows what no op accounts
//! for (framework overhead, autodiff bookkeeping, cache effects between ops).

use burn::optim::GradientsParams;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::config::BenchConfig;
pub use super::profile_ops::{OpTime, ProfileSection};
use super::profile_ops::{OpTimer, walk, walk_deep};
use super::target::BenchTarget;
use super::timing::measure;
use super::workloads::planned;
use crate::backend::sync;
use crate::error::Result;
use crate::infer::sliding_window::predict_probabilities_timed;
use crate::kernels::softmax_channels;
use crate::model::UNet3d;
use crate::train::loss::deep_supervision_loss;
use crate::util::phases::PhaseClock;
use crate::util::rng::Rng;
use crate::util::stats::median;

/// The profile of one target.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    pub target: String,
    pub sections: Vec<ProfileSection>,
}

/// Times every op of `cfg`'s preset network on `target` (see the module docs).
pub fn profile(target: &BenchTarget, cfg: &BenchConfig) -> Result<Profile> {
    let device = target.backend.device.clone();
    let tc = planned(cfg, target.kernels)?;
    let mut rng = Rng::new(cfg.seed);
    let reps = cfg.reps.max(1);
    let mut sections = Vec::new();

    // Inference forward, op by op.
    let model = tc.model.init(&device)?;
    let [d, h, w] = tc.inference.patch;
    let x = random(
        &mut rng,
        [tc.inference.batch, tc.model.in_channels, d, h, w],
        &device,
    );
    let mut timer = OpTimer::new(&device, reps, false);
    let logits = walk(&model, x.clone(), &mut timer, false)?;
    let own = model.own_kernels();
    let probs = |t: Tensor<5>| {
        if own {
            softmax_channels(t, false)
        } else {
            softmax(t, 1)
        }
    };
    timer.time("softmax", &[logits], |t| probs(t[0].clone()))?;
    let whole = measure(&device, 1, reps, None, || {
        let _ = probs(model.forward(x.clone()));
        Ok(())
    })?;
    sections.push(timer.section("U-Net forward + softmax", whole.median()));

    // Training: each op forward + backward alone, then the phases of one real step.
    let ad = device.clone().autodiff();
    let model = tc.model.init(&ad)?;
    let [d, h, w] = tc.sampler.patch;
    let b = tc.sampler.batch_size;
    let x = random(&mut rng, [b, tc.model.in_channels, d, h, w], &ad);
    let classes = tc.model.num_classes;
    let labels: Vec<u8> = (0..b * d * h * w)
        .map(|_| rng.below(classes) as u8)
        .collect();
    let mut timer = OpTimer::new(&ad, reps, true);
    let outputs = walk_deep(&model, x.clone(), &mut timer)?;
    timer.time_loss(outputs, &labels, &model.pool_kernels, &tc.loss)?;
    let phases = step_phases(model, &tc, x, &labels, reps)?;
    let whole_s = phases.iter().map(|p| p.seconds).sum();
    sections.push(timer.section("training step, each op forward + backward alone", whole_s));
    sections.push(ProfileSection {
        name: "training step, phases".into(),
        ops: phases,
        whole_s,
    });

    // Sliding window over the bench volume, by phase.
    let model = tc.model.init(&device)?;
    let dims = cfg.volume;
    let n: usize = dims.iter().product();
    let image: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let mut clocks = Vec::new();
    for i in 0..=reps {
        let mut clock = PhaseClock::new();
        predict_probabilities_timed(
            &model,
            &image,
            dims,
            classes,
            &tc.inference,
            &device,
            &mut clock,
        )?;
        if i > 0 {
            clocks.push(clock); // the first pass is warm-up
        }
    }
    let ops: Vec<OpTime> = clocks[0]
        .phases()
        .iter()
        .enumerate()
        .map(|(i, (name, _))| OpTime {
            op: name.to_string(),
            shape: String::new(),
            seconds: median(clocks.iter().map(|c| c.phases()[i].1)).unwrap_or(f64::NAN),
        })
        .collect();
    let totals = clocks.iter().map(|c| c.phases().iter().map(|p| p.1).sum());
    sections.push(ProfileSection {
        name: format!("sliding window {dims:?}, phases"),
        ops,
        whole_s: median(totals).unwrap_or(f64::NAN),
    });
    Ok(Profile {
        target: target.label.clone(),
        sections,
    })
}

fn random(rng: &mut Rng, dims: [usize; 5], device: &Device) -> Tensor<5> {
    let v: Vec<f32> = (0..dims.iter().product())
        .map(|_| rng.normal() as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, dims), device)
}

/// One real training step, repeated, cut into phases (each ending in a device sync).
fn step_phases(
    model: UNet3d,
    tc: &crate::run::TrainConfig,
    x: Tensor<5>,
    labels: &[u8],
    reps: usize,
) -> Result<Vec<OpTime>> {
    let device = x.device();
    let mut optim = tc.optim.init();
    let mut model = Some(model);
    let names = [
        "forward",
        "loss",
        "backward",
        "collect gradients",
        "optimiser update",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for i in 0..=reps {
        let current = model
            .take()
            .expect("the model is put back after every step");
        let mut lap = {
            let mut last = std::time::Instant::now();
            let device = device.clone();
            move || {
                sync(&device);
                let now = std::time::Instant::now();
                let dt = now.duration_since(last).as_secs_f64();
                last = now;
                dt
            }
        };
        let mut laps = Vec::new();
        current.check_input(x.dims())?;
        let outputs = current.forward_deep(x.clone());
        laps.push(lap());
        let loss = deep_supervision_loss(outputs, labels, &current.pool_kernels, &tc.loss)?.total;
        laps.push(lap());
        let grads = loss.backward();
        laps.push(lap());
        let grads = GradientsParams::from_grads(grads, &current);
        laps.push(lap());
        model = Some(optim.step(tc.optim.lr, current, grads));
        laps.push(lap());
        if i > 0 {
            for (s, l) in samples.iter_mut().zip(laps) {
                s.push(l);
            }
        }
    }
    Ok(names
        .iter()
        .zip(samples)
        .map(|(n, s)| OpTime {
            op: n.to_string(),
            shape: String::new(),
            seconds: median(s.into_iter()).unwrap_or(f64::NAN),
        })
        .collect())
}

impl Profile {
    /// One Markdown table per section: op, input shape, median seconds, share of the sum; then
    /// the sum and the whole call timed as one.
    pub fn to_markdown(&self) -> String {
        let mut md = format!("### Profile: {}\n", self.target);
        for s in &self.sections {
            let sum: f64 = s.ops.iter().map(|o| o.seconds).sum();
            md += &format!(
                "\n**{}**\n\n| op | input | median s | share |\n|---|---|---:|---:|\n",
                s.name
            );
            for o in &s.ops {
                md += &format!(
                    "| {} | {} | {:.5} | {:.1} % |\n",
                    o.op,
                    o.shape,
                    o.seconds,
                    100.0 * o.seconds / sum
                );
            }
            md += &format!(
                "| **sum of the above** | | {sum:.5} | |\n| **whole, timed as one** | | {:.5} | |\n",
                s.whole_s
            );
        }
        md
    }
}
