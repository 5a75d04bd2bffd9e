//! Device tests of the WGSL kernels against burn's own ops (run on lavapipe in CI).

use burn::backend::Dispatch;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};

use super::activation::Activation;
use super::extension::{Conv3dWgslGrads, Conv3dWgslOps};
use crate::util::rng::Rng;

/// The wgpu device, or `None` (after printing "skipping") when no adapter exists and
/// `UNET3D_REQUIRE_WGPU` is not set.
pub(crate) fn wgpu_device() -> Option<Device> {
    // SAFETY-free: only sets an env var read by the Vulkan loader of this process.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let device = Device::wgpu(DeviceKind::Cpu);
    let ok = std::panic::catch_unwind(|| {
        let t = Tensor::<1>::from_floats([1.0, 2.0], &device);
        t.into_data().try_to_vec::<f32>().is_ok()
    })
    .unwrap_or(false);
    if ok {
        return Some(device);
    }
    if std::env::var_os("UNET3D_REQUIRE_WGPU").is_some() {
        panic!("UNET3D_REQUIRE_WGPU is set but no wgpu adapter is available");
    }
    eprintln!("skipping: no wgpu adapter");
    None
}

pub(crate) fn random(rng: &mut Rng, dims: &[usize]) -> TensorData {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect();
    TensorData::new(v, dims.to_vec())
}

fn max_rel_err(a: &TensorData, b: &TensorData) -> f32 {
    let a = a.try_to_vec::<f32>().unwrap();
    let b = b.try_to_vec::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    let mag = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / mag
}

/// One grid case: shape, which epilogue steps are present (and trainable), activation.
struct Case {
    x: [usize; 5],
    co: usize,
    k: usize,
    bias: bool,
    scale: bool,
    shift: bool,
    trainable: bool,
    act: Activation,
}

/// Runs `conv3d_fused` on `dev` and `conv3d_fused_reference` on flex, both under autodiff, and
/// returns (name, wgsl, reference) for the output and every gradient.
fn run_case(
    dev: &Device,
    case: &Case,
    rng: &mut Rng,
) -> Vec<(&'static str, TensorData, TensorData)> {
    use super::api::conv3d_fused;
    use super::reference::conv3d_fused_reference;
    let [n, ci, d, h, w] = case.x;
    let (co, k) = (case.co, case.k);
    let xd = random(rng, &case.x);
    let wd = random(rng, &[co, ci, k, k, k]);
    let vd: Vec<TensorData> = (0..3).map(|_| random(rng, &[co])).collect();
    let rd = random(rng, &[n, co, d, h, w]);
    let run = |device: &Device, wgsl: bool| {
        let x = Tensor::<5>::from_data(xd.clone(), device).require_grad();
        let wt = Tensor::<5>::from_data(wd.clone(), device).require_grad();
        let vec = |i: usize, on: bool| {
            on.then(|| {
                let t = Tensor::<1>::from_data(vd[i].clone(), device);
                if case.trainable { t.require_grad() } else { t }
            })
        };
        let (b, s, t) = (vec(0, case.bias), vec(1, case.scale), vec(2, case.shift));
        let y = if wgsl {
            conv3d_fused(
                x.clone(),
                wt.clone(),
                b.clone(),
                s.clone(),
                t.clone(),
                case.act,
            )
            .unwrap()
        } else {
            conv3d_fused_reference(
                x.clone(),
                wt.clone(),
                b.clone(),
                s.clone(),
                t.clone(),
                case.act,
            )
        };
        let grads = (y.clone() * Tensor::<5>::from_data(rd.clone(), device))
            .sum()
            .backward();
        let mut out = vec![("y", y.inner().into_data())];
        out.push(("dx", x.grad(&grads).unwrap().into_data()));
        out.push(("dw", wt.grad(&grads).unwrap().into_data()));
        for (name, v) in [("dbias", b), ("dscale", s), ("dshift", t)] {
            if let Some(v) = v.filter(|_| case.trainable) {
                out.push((name, v.grad(&grads).unwrap().into_data()));
            }
        }
        out
    };
    let got = run(&dev.clone().autodiff(), true);
    let want = run(&Device::flex().autodiff(), false);
    got.into_iter()
        .zip(want)
        .map(|((name, g), (_, w))| (name, g, w))
        .collect()
}

/// Output and all gradients of the fused WGSL path equal burn's reference (conv3d + mul/add +
/// activation, differentiated by burn autodiff) within 1e-4 of the reference's largest
/// magnitude, over odd sizes, channel counts 1/3/17/32, batch 1/2, kernels 3/1 and every
/// combination of fused steps that the model uses.
#[test]
fn fused_conv_and_gradients_match_reference_over_shape_grid() {
    let Some(dev) = wgpu_device() else { return };
    let mut rng = Rng::new(7);
    let relu = Activation::Relu;
    let leaky = Activation::LeakyRelu(0.01);
    let id = Activation::Identity;
    #[rustfmt::skip]
    let cases = [
        Case { x: [1, 1, 7, 9, 5], co: 3, k: 3, bias: true, scale: false, shift: false, trainable: true, act: relu },
        Case { x: [2, 3, 5, 6, 7], co: 17, k: 3, bias: true, scale: true, shift: true, trainable: true, act: leaky },
        Case { x: [1, 17, 6, 5, 9], co: 32, k: 3, bias: false, scale: true, shift: true, trainable: true, act: id },
        Case { x: [2, 32, 4, 5, 6], co: 3, k: 1, bias: true, scale: false, shift: true, trainable: true, act: relu },
        Case { x: [1, 32, 4, 8, 16], co: 32, k: 3, bias: true, scale: false, shift: false, trainable: true, act: relu },
        Case { x: [1, 3, 7, 9, 5], co: 1, k: 1, bias: false, scale: false, shift: false, trainable: true, act: id },
        Case { x: [2, 17, 5, 4, 3], co: 17, k: 3, bias: true, scale: true, shift: true, trainable: false, act: leaky },
    ];
    for case in &cases {
        let tag = format!(
            "x {:?} co {} k {} bias {} scale {} shift {} trainable {} {:?}",
            case.x, case.co, case.k, case.bias, case.scale, case.shift, case.trainable, case.act
        );
        for (name, got, want) in run_case(&dev, case, &mut rng) {
            let err = max_rel_err(&got, &want);
            eprintln!("{tag} {name}: rel err {err:e}");
            assert!(err <= 1e-4, "{tag} {name}: rel err {err}");
        }
    }
}

#[test]
fn backward_kernels_match_burn_autodiff() {
    let Some(dev) = wgpu_device() else { return };
    let cpu = Device::flex().autodiff();
    let mut rng = Rng::new(11);
    for (n, ci, co, d, h, w, k, act) in [
        (1, 3, 5, 7, 9, 5, 3, Activation::Relu),
        (2, 17, 3, 5, 6, 7, 3, Activation::LeakyRelu(0.1)),
        (1, 4, 6, 3, 4, 5, 1, Activation::Identity),
    ] {
        let xd = random(&mut rng, &[n, ci, d, h, w]);
        let wd = random(&mut rng, &[co, ci, k, k, k]);
        let bd = random(&mut rng, &[co]);
        let sd = random(&mut rng, &[co]);
        let td = random(&mut rng, &[co]);
        let rd = random(&mut rng, &[n, co, d, h, w]);
        // Reference on flex with burn autodiff.
        let x = Tensor::<5>::from_data(xd.clone(), &cpu).require_grad();
        let wt = Tensor::<5>::from_data(wd.clone(), &cpu).require_grad();
        let b = Tensor::<1>::from_data(bd.clone(), &cpu).require_grad();
        let s = Tensor::<1>::from_data(sd.clone(), &cpu).require_grad();
        let t = Tensor::<1>::from_data(td.clone(), &cpu).require_grad();
        let u = burn::tensor::module::conv3d(
            x.clone(),
            wt.clone(),
            Some(b.clone()),
            burn::tensor::ops::ConvOptions::new([1; 3], [k / 2; 3], [1; 3], 1),
        );
        let z = u.clone() * s.clone().reshape([1, co as i32, 1, 1, 1])
            + t.clone().reshape([1, co as i32, 1, 1, 1]);
        let y = match act {
            Activation::Identity => z,
            Activation::Relu => burn::tensor::activation::relu(z),
            Activation::LeakyRelu(a) => burn::tensor::activation::leaky_relu(z, a as f64),
        };
        let loss = (y.clone() * Tensor::<5>::from_data(rd.clone(), &cpu)).sum();
        let grads = loss.backward();
        let gx = x.grad(&grads).unwrap().into_data();
        let gw = wt.grad(&grads).unwrap().into_data();
        let gb = b.grad(&grads).unwrap().into_data();
        let gs = s.grad(&grads).unwrap().into_data();
        let gt = t.grad(&grads).unwrap().into_data();
        // WGSL kernels.
        let v1 = |d: TensorData| Tensor::<1>::from_data(d, &dev);
        let v5 = |d: TensorData| Tensor::<5>::from_data(d, &dev);
        let yw = v5(y.inner().into_data()).into_dispatch();
        let uw = v5(u.inner().into_data()).into_dispatch();
        let dy = v5(rd).into_dispatch();
        let sw = v1(sd.clone());
        let dx = Tensor::<5>::from_dispatch(<Dispatch as Conv3dWgslGrads>::conv3d_wgsl_input_grad(
            dy.clone(),
            yw.clone(),
            v5(wd).into_dispatch(),
            sw.clone().into_dispatch(),
            act,
        ));
        let dw =
            Tensor::<5>::from_dispatch(<Dispatch as Conv3dWgslGrads>::conv3d_wgsl_weight_grad(
                dy.clone(),
                yw.clone(),
                v5(xd).into_dispatch(),
                sw.clone().into_dispatch(),
                act,
                k,
            ));
        let sums = Tensor::<1>::from_dispatch(
            <Dispatch as Conv3dWgslGrads>::conv3d_wgsl_channel_sums(dy, yw, uw, true, act),
        );
        let s0 = sums.clone().slice([0..co]);
        let s1 = sums.slice([co..2 * co]);
        let tag = format!("n{n} ci{ci} co{co} {d}x{h}x{w} k{k} {act:?}");
        for (name, got, want) in [
            ("dx", dx.into_data(), gx),
            ("dw", dw.into_data(), gw),
            ("dbias", (s0.clone() * sw).into_data(), gb),
            ("dshift", s0.into_data(), gt),
            ("dscale", s1.into_data(), gs),
        ] {
            let err = max_rel_err(&got, &want);
            eprintln!("{tag} {name}: rel err {err:e}");
            assert!(err <= 1e-4, "{tag} {name}: rel err {err}");
        }
    }
}

/// Quick timing of the WGSL kernels alone (for tuning; `UNET3D_CONV_LOOPED` selects variants).
#[test]
#[ignore = "timing only"]
fn tune_wgsl_kernels() {
    use std::time::Instant;
    let Some(dev) = wgpu_device() else { return };
    let mut rng = Rng::new(3);
    let (n, ci, co, s, k) = (1, 32, 32, 32, 3);
    let g = super::plan::ConvGeometry {
        n,
        ci,
        co,
        d: s,
        h: s,
        w: s,
        k,
    };
    let x = Tensor::<5>::from_data(random(&mut rng, &[n, ci, s, s, s]), &dev).into_dispatch();
    let w = Tensor::<5>::from_data(random(&mut rng, &[co, ci, k, k, k]), &dev).into_dispatch();
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
            drop(out);
            eprintln!("{name} run {i}: {dt:.4} s  {:.2} GFLOP/s", flops / dt / 1e9);
        }
    };
    let flat = |t: burn::backend::DispatchTensor| {
        Tensor::<5>::from_dispatch(t)
            .flatten::<1>(0, 4)
            .into_dispatch()
    };
    run(
        "forward",
        &|| {
            flat(<Dispatch as Conv3dWgslOps>::conv3d_wgsl(
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
            super::reference::conv3d_fused_reference(
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
    let y = <Dispatch as Conv3dWgslOps>::conv3d_wgsl(
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
            flat(<Dispatch as Conv3dWgslGrads>::conv3d_wgsl_input_grad(
                y.clone(),
                y.clone(),
                w.clone(),
                v(1.0),
                Activation::Relu,
            ))
        },
        g.flops(),
    );
    run(
        "weight grad",
        &|| {
            flat(<Dispatch as Conv3dWgslGrads>::conv3d_wgsl_weight_grad(
                y.clone(),
                y.clone(),
                x.clone(),
                v(1.0),
                Activation::Relu,
                k,
            ))
        },
        g.flops(),
    );
}
