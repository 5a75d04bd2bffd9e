//! Timing of the WGSL convolution against burn's built-in conv3d on one device.
//!
//! Both paths compute `relu(conv3d(x, w) + b)`; "train" is forward plus backward of
//! `sum(y)` w.r.t. x, w and b. The first call (shader compilation, autotuning) is reported
//! apart; the figure of merit is the median of the following calls.

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};

use super::activation::Activation;
use super::api::{KernelChoice, conv3d_fused_with};
use super::plan::ConvGeometry;
use crate::util::rng::Rng;
use crate::{Error, Result};

/// First-call and median seconds of one measured operation.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub first_s: f64,
    pub median_s: f64,
}

/// Results of [`bench_conv3d`] for one shape.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub geometry: ConvGeometry,
    pub iters: usize,
    pub wgsl_forward: Timing,
    pub builtin_forward: Timing,
    pub wgsl_train: Timing,
    pub builtin_train: Timing,
}

impl BenchReport {
    /// Built-in median / WGSL median for the forward pass (> 1: WGSL is faster).
    pub fn forward_speedup(&self) -> f64 {
        self.builtin_forward.median_s / self.wgsl_forward.median_s
    }

    /// Built-in median / WGSL median for forward + backward.
    pub fn train_speedup(&self) -> f64 {
        self.builtin_train.median_s / self.wgsl_train.median_s
    }

    /// A human-readable table.
    pub fn summary(&self) -> String {
        let g = &self.geometry;
        let f = g.flops();
        let line = |name: &str, t: &Timing, flops: f64| {
            format!(
                "  {name:<16} median {:>8.4} s  {:>7.2} GFLOP/s  (first call {:.2} s)\n",
                t.median_s,
                flops / t.median_s / 1e9,
                t.first_s
            )
        };
        let mut s = format!(
            "conv3d {}x{}x{} k{} {}->{} batch {} ({} timed runs)\n",
            g.d, g.h, g.w, g.k, g.ci, g.co, g.n, self.iters
        );
        s += &line("wgsl forward", &self.wgsl_forward, f);
        s += &line("builtin forward", &self.builtin_forward, f);
        s += &line("wgsl fwd+bwd", &self.wgsl_train, 3.0 * f);
        s += &line("builtin fwd+bwd", &self.builtin_train, 3.0 * f);
        s += &format!(
            "  speedup: forward {:.2}x, forward+backward {:.2}x\n",
            self.forward_speedup(),
            self.train_speedup()
        );
        s
    }
}

fn time(iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    let t = Instant::now();
    f()?;
    let first_s = t.elapsed().as_secs_f64();
    let mut v = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64());
    }
    v.sort_by(f64::total_cmp);
    Ok(Timing {
        first_s,
        median_s: v[v.len() / 2],
    })
}

fn random(rng: &mut Rng, dims: &[usize], amp: f64) -> TensorData {
    let n = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.range(-amp, amp) as f32).collect();
    TensorData::new(v, dims.to_vec())
}

fn sync(device: &Device) -> Result<()> {
    device
        .sync()
        .map_err(|e| Error::Backend(format!("conv3d bench: device sync failed: {e}")))
}

/// Times WGSL vs built-in conv3d (+ bias + ReLU) at `x: [n, ci, d, h, w]`, `k`, `co` on
/// `device` (non-autodiff; an autodiff copy is used for the backward timings).
pub fn bench_conv3d(
    device: &Device,
    x_dims: [usize; 5],
    co: usize,
    k: usize,
    iters: usize,
) -> Result<BenchReport> {
    let g = ConvGeometry::from_dims(x_dims, [co, x_dims[1], k, k, k])?;
    let device = device.clone().inner();
    let ad = device.clone().autodiff();
    let mut rng = Rng::new(1234);
    let xd = random(&mut rng, &x_dims, 1.0);
    let wd = random(
        &mut rng,
        &[co, g.ci, k, k, k],
        (1.0 / (g.ci * k.pow(3)) as f64).sqrt(),
    );
    let bd = random(&mut rng, &[co], 0.1);
    let act = Activation::Relu;

    let forward = |choice: KernelChoice| -> Result<Timing> {
        let x = Tensor::<5>::from_data(xd.clone(), &device);
        let w = Tensor::<5>::from_data(wd.clone(), &device);
        let b = Tensor::<1>::from_data(bd.clone(), &device);
        time(iters, || {
            let y = conv3d_fused_with(
                choice,
                x.clone(),
                w.clone(),
                Some(b.clone()),
                None,
                None,
                act,
            )?;
            sync(&device)?;
            drop(y);
            Ok(())
        })
    };
    let train = |choice: KernelChoice| -> Result<Timing> {
        let x = Tensor::<5>::from_data(xd.clone(), &ad).require_grad();
        let w = Tensor::<5>::from_data(wd.clone(), &ad).require_grad();
        let b = Tensor::<1>::from_data(bd.clone(), &ad).require_grad();
        time(iters, || {
            let y = conv3d_fused_with(
                choice,
                x.clone(),
                w.clone(),
                Some(b.clone()),
                None,
                None,
                act,
            )?;
            let grads = y.sum().backward();
            let gx = x.grad(&grads);
            let gw = w.grad(&grads);
            let gb = b.grad(&grads);
            sync(&ad)?;
            drop((gx, gw, gb));
            Ok(())
        })
    };
    Ok(BenchReport {
        geometry: g,
        iters,
        wgsl_forward: forward(KernelChoice::Wgsl)?,
        builtin_forward: forward(KernelChoice::Builtin)?,
        wgsl_train: train(KernelChoice::Wgsl)?,
        builtin_train: train(KernelChoice::Builtin)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::extension::{Conv3dWgslGrads, Conv3dWgslOps};

    #[test]
    #[ignore = "slow: times 32->32 channels at 32^3 on lavapipe"]
    fn bench_32_channels_32_cubed() {
        let Some(dev) = crate::kernels::tests::wgpu_device() else {
            return;
        };
        let report = bench_conv3d(&dev, [1, 32, 32, 32, 32], 32, 3, 5).unwrap();
        println!("{}", report.summary());
    }

    /// Times each WGSL kernel alone at 32->32, 32^3 (for tuning; `TUNE_PARTS` = comma list of
    /// forward, builtin, input, weight; `TUNE_RUNS` = runs per kernel).
    #[test]
    #[ignore = "timing only"]
    fn kernel_timings() {
        use std::time::Instant;
        let Some(dev) = crate::kernels::tests::wgpu_device() else {
            return;
        };
        let mut rng = Rng::new(3);
        if let burn::backend::DispatchDevice::Cube(c) = dev.as_dispatch() {
            let p = c.client().properties().clone();
            eprintln!(
                "adapter {} shared {} max_binding {} software {}",
                p.identity.name,
                p.hardware.max_shared_memory_size,
                p.memory.max_page_size,
                p.identity.physical.is_none()
            );
        }
        let (n, ci, co, s, k) = (1, 32, 32, 32, 3);
        let g = ConvGeometry {
            n,
            ci,
            co,
            d: s,
            h: s,
            w: s,
            k,
        };
        let x = Tensor::<5>::from_data(
            crate::kernels::tests::random(&mut rng, &[n, ci, s, s, s]),
            &dev,
        )
        .into_dispatch();
        let w = Tensor::<5>::from_data(
            crate::kernels::tests::random(&mut rng, &[co, ci, k, k, k]),
            &dev,
        )
        .into_dispatch();
        let v = |f: f32| Tensor::<1>::full([co], f, &dev).into_dispatch();
        let parts =
            std::env::var("TUNE_PARTS").unwrap_or_else(|_| "forward,builtin,input,weight".into());
        let run = |name: &str, f: &dyn Fn() -> burn::backend::DispatchTensor, flops: f64| {
            if !parts.split(',').any(|p| name.starts_with(p)) {
                return;
            }
            let runs: usize = std::env::var("TUNE_RUNS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5);
            for i in 0..runs {
                dev.sync().unwrap();
                let t = Instant::now();
                let out = f();
                dev.sync().unwrap();
                let dt = t.elapsed().as_secs_f64();
                // Surface launch errors (a failed kernel would otherwise time as instant).
                let probe = Tensor::<5>::from_dispatch(out).slice([0..1, 0..1, 0..1, 0..1, 0..1]);
                probe.into_data().try_to_vec::<f32>().unwrap();
                eprintln!("{name} run {i}: {dt:.4} s  {:.2} GFLOP/s", flops / dt / 1e9);
            }
        };
        let flat = |t: burn::backend::DispatchTensor| t;
        run(
            "forward",
            &|| {
                flat(<burn::backend::Dispatch as Conv3dWgslOps>::conv3d_wgsl(
                    x.clone(),
                    w.clone(),
                    v(0.0),
                    v(1.0),
                    v(0.0),
                    Activation::Relu,
                ))
            },
            g.flops(),
        );
        let (xt, wt) = (
            Tensor::<5>::from_dispatch(x.clone()),
            Tensor::<5>::from_dispatch(w.clone()),
        );
        run(
            "builtin forward",
            &|| {
                crate::kernels::reference::conv3d_fused_reference(
                    xt.clone(),
                    wt.clone(),
                    None,
                    None,
                    None,
                    Activation::Relu,
                )
                .into_dispatch()
            },
            g.flops(),
        );
        let y = <burn::backend::Dispatch as Conv3dWgslOps>::conv3d_wgsl(
            x.clone(),
            w.clone(),
            v(0.0),
            v(1.0),
            v(0.0),
            Activation::Relu,
        );
        run(
            "input grad",
            &|| {
                flat(
                    <burn::backend::Dispatch as Conv3dWgslGrads>::conv3d_wgsl_input_grad(
                        y.clone(),
                        y.clone(),
                        w.clone(),
                        v(1.0),
                        Activation::Relu,
                    ),
                )
            },
            g.flops(),
        );
        run(
            "weight grad",
            &|| {
                flat(
                    <burn::backend::Dispatch as Conv3dWgslGrads>::conv3d_wgsl_weight_grad(
                        y.clone(),
                        y.clone(),
                        x.clone(),
                        v(1.0),
                        Activation::Relu,
                        k,
                    ),
                )
            },
            g.flops(),
        );
    }
}
