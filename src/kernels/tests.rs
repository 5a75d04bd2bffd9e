//! Device tests of the WGSL kernels against burn's own ops (run on lavapipe in CI).

use burn::tensor::{Device, DeviceKind, Tensor, TensorData};

use super::activation::Activation;
use super::selfcheck::{max_rel_err, random, self_check};
use crate::util::rng::Rng;

/// The wgpu device (lavapipe on a machine without GPU), or `None` after printing "skipping"
/// when no adapter works; with `UNET3D_REQUIRE_WGPU` set a missing adapter fails the test.
pub(crate) fn wgpu_device() -> Option<Device> {
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

/// Output and all gradients of the fused WGSL path equal burn's reference (conv3d + mul/add +
/// activation, differentiated by burn autodiff) within 1e-4 of the reference's largest
/// magnitude, over odd sizes, channel counts 1/3/17/32, batch 1/2, kernels 3/1 and every
/// combination of fused steps that the model uses.
#[test]
fn fused_conv_and_gradients_match_reference_over_shape_grid() {
    let Some(dev) = wgpu_device() else { return };
    for check in self_check(&dev) {
        eprintln!(
            "{}: rel err {:e} ({:.1} s)",
            check.case, check.max_rel_err, check.seconds
        );
        assert!(
            check.passed(),
            "{}: rel err {}",
            check.case,
            check.max_rel_err
        );
    }
}

/// Reference output and gradients on flex (burn autodiff) for the variant test.
struct Reference {
    y: TensorData,
    dx: TensorData,
    dw: TensorData,
}

fn reference(
    xd: &TensorData,
    wd: &TensorData,
    vd: &[TensorData],
    rd: &TensorData,
    act: Activation,
) -> Reference {
    let cpu = Device::flex().autodiff();
    let x = Tensor::<5>::from_data(xd.clone(), &cpu).require_grad();
    let w = Tensor::<5>::from_data(wd.clone(), &cpu).require_grad();
    let v = |i: usize| Some(Tensor::<1>::from_data(vd[i].clone(), &cpu));
    let y = super::reference::conv3d_fused_reference(x.clone(), w.clone(), v(0), v(1), v(2), act);
    let grads = (y.clone() * Tensor::<5>::from_data(rd.clone(), &cpu))
        .sum()
        .backward();
    Reference {
        y: y.inner().into_data(),
        dx: x.grad(&grads).unwrap().into_data(),
        dw: w.grad(&grads).unwrap().into_data(),
    }
}

/// Every template variant the adapters can get computes the same result: the in-shader chunk
/// loop used on GPUs and the loop-free per-chunk launches used on CPU adapters, and the small
/// and large weight-gradient register blocks, each against burn's reference. Runs the
/// launchers on `CubeBackend` directly so the variant is explicit.
#[test]
fn tile_variants_match_reference() {
    use super::wgsl::launch::{forward_with, input_grad_with};
    use super::wgsl::launch_grads::weight_grad_with;
    use super::wgsl::plan::ConvGeometry;
    use super::wgsl::tiling::DirectTiling;
    use super::wgsl::weight_grad::WeightGradPlan;
    use burn::backend::DispatchDevice;
    use burn::backend::ops::FloatTensorOps;
    use burn_cubecl::CubeBackend;

    let Some(dev) = wgpu_device() else { return };
    let DispatchDevice::Cube(cube) = dev.as_dispatch().clone() else {
        unreachable!()
    };
    let mut rng = Rng::new(11);
    let (n, ci, co, d, h, w, k) = (2, 5, 6, 5, 6, 7, 3);
    let act = Activation::LeakyRelu(0.1);
    let xd = random(&mut rng, &[n, ci, d, h, w]);
    let wd = random(&mut rng, &[co, ci, k, k, k]);
    let vd: Vec<TensorData> = (0..3).map(|_| random(&mut rng, &[co])).collect();
    let rd = random(&mut rng, &[n, co, d, h, w]);
    let want = reference(&xd, &wd, &vd, &rd, act);
    let t = |d: &TensorData| CubeBackend::float_from_data(d.clone(), &cube);
    let read = |t| burn::tensor::read_sync(CubeBackend::float_into_data(t)).unwrap();
    let check = |name: &str, got: TensorData, want: &TensorData| {
        let err = max_rel_err(&got, want);
        eprintln!("{name}: rel err {err:e}");
        assert!(err <= 1e-4, "{name}: rel err {err}");
    };
    // Small blocks of both lane-grid shapes, looped and loop-free (the production sizes run in
    // the shape-grid test); 6 destination channels leave partial channel blocks.
    #[rustfmt::skip]
    let voxel_lanes = DirectTiling {
        k: 3, td: 2, th: 2, twl: 4, lc: 1, rd: 1, rh: 1, rv: 2, rc: 4, ch: 2, looped: true,
    };
    #[rustfmt::skip]
    let channel_lanes = DirectTiling {
        k: 3, td: 1, th: 1, twl: 2, lc: 8, rd: 2, rh: 3, rv: 2, rc: 1, ch: 3, looped: false,
    };
    for tiling in [
        voxel_lanes,
        DirectTiling {
            looped: false,
            ..voxel_lanes
        },
        channel_lanes,
        DirectTiling {
            looped: true,
            ..channel_lanes
        },
    ] {
        let looped = format!("{tiling:?}");
        let y = forward_with(
            Some(tiling),
            t(&xd),
            t(&wd),
            t(&vd[0]),
            t(&vd[1]),
            t(&vd[2]),
            act,
        );
        check(
            &format!("forward looped {looped}"),
            read(y.clone()),
            &want.y,
        );
        let dx = input_grad_with(Some(tiling), t(&rd), y, t(&wd), t(&vd[1]), act);
        check(&format!("input grad looped {looped}"), read(dx), &want.dx);
    }
    let yd = want.y.clone();
    let g = ConvGeometry {
        n,
        ci,
        co,
        d,
        h,
        w,
        k,
    };
    for (name, plan) in [
        ("gpu", WeightGradPlan::choose(&g, false)),
        ("cpu small", WeightGradPlan::choose(&g, true)),
        (
            "cpu 4x2 block",
            WeightGradPlan::choose_with(&g, 8, 4, 2, 64),
        ),
    ] {
        let dw = weight_grad_with(Some(plan), t(&rd), t(&yd), t(&xd), t(&vd[1]), act, k);
        check(&format!("weight grad {name} {plan:?}"), read(dw), &want.dw);
    }
}
