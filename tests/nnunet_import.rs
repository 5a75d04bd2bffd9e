//! nnU-Net v2 models run by unet3d, checked against nnU-Net itself: `tests/data/nnunet-tiny` holds a
//! real (tiny) model trained by nnU-Net, two scans and `nnUNetv2_predict_from_modelfolder`'s own
//! segmentations and probabilities (made by `benches/nnunet_parity/make_fixture.py`). unet3d must
//! reproduce them through both routes — the nnU-Net folder as it is, and `unet3d import nnunet` —
//! and refuse what it does not implement with an error naming the field and the value.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use unet3d::backend::{Backend, DeviceChoice};
use unet3d::data::io::npy::read_npy_f32;
use unet3d::data::io::{read_image, read_labels};
use unet3d::data::volume::LabelMap;
use unet3d::infer::nnunet::NnunetModel;

/// Largest |p_unet3d − p_nnunet| allowed. The expected probabilities are stored as float16 (a step
/// of 2⁻¹¹ ≈ 4.9e-4 near 1) and nnU-Net accumulates its sliding-window logits in float16, so a
/// different summation order or SIMD path can move a value by a few float16 steps.
const PROB_TOL: f32 = 4e-3;
/// A voxel may take another label than nnU-Net's only where nnU-Net's two largest probabilities
/// are this close (a tie that the tolerance above can flip).
const TIE: f32 = 2.0 * PROB_TOL;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nnunet-tiny")
}

/// The fixture's scans by case name (`input/<case>_0000.nii.gz`).
fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture().join("input"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix("_0000.nii.gz").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 2, "fixture scans missing: {names:?}");
    names
}

fn unet3d(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unet3d"));
    cmd.args(args);
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    cmd.output().expect("unet3d runs")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `unet3d predict` on flex; returns the segmentation and the probabilities (C, z, y, x).
fn predict(
    model: &Path,
    case: &str,
    folds: &[&str],
    out: &Path,
) -> (LabelMap, Vec<usize>, Vec<f32>) {
    let input = fixture().join("input").join(format!("{case}_0000.nii.gz"));
    let seg = out.join(format!("{case}.nii.gz"));
    let probs = out.join(format!("{case}.npy"));
    let mut args = vec!["predict", "--device", "flex"];
    if !folds.is_empty() {
        args.push("--folds");
        args.extend(folds);
    }
    let output = unet3d(
        &args,
        &[
            ("--model", model),
            ("--input", &input),
            ("--output", &seg),
            ("--probabilities", &probs),
        ],
    );
    ok(&output, &format!("predict {case} with {}", model.display()));
    let labels = read_labels(&seg).unwrap();
    let (shape, values) = read_npy_f32(&probs).unwrap();
    (labels, shape, values)
}

/// Compares unet3d's output with nnU-Net's `expected/<stem>.nii.gz` and `<stem>_probabilities.npy`.
fn check_against_nnunet(stem: &str, seg: &LabelMap, shape: &[usize], probs: &[f32]) {
    let expected = fixture().join("expected");
    let want = read_labels(&expected.join(format!("{stem}.nii.gz"))).unwrap();
    let (want_shape, want_probs) =
        read_npy_f32(&expected.join(format!("{stem}_probabilities.npy"))).unwrap();
    assert_eq!(seg.dims, want.dims, "{stem}: output grid");
    let affine = seg.affine.max_abs_diff(&want.affine);
    assert!(
        affine < 1e-4,
        "{stem}: affine differs from nnU-Net's by {affine}"
    );
    assert_eq!(
        shape,
        want_shape.as_slice(),
        "{stem}: probabilities shape (classes, z, y, x)"
    );
    let classes = shape[0];
    let n = seg.data.len();
    assert_eq!(n * classes, want_probs.len());

    let worst = probs
        .iter()
        .zip(&want_probs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= PROB_TOL,
        "{stem}: max |p - p_nnunet| = {worst} > {PROB_TOL}"
    );

    // The voxel order of a channel in the (C, z, y, x) array is x fastest, as in a LabelMap.
    let mut differing = 0;
    for v in 0..n {
        if seg.data[v] == want.data[v] {
            continue;
        }
        differing += 1;
        let mut p: Vec<f32> = (0..classes).map(|c| want_probs[c * n + v]).collect();
        p.sort_by(|a, b| b.total_cmp(a));
        assert!(
            p[0] - p[1] < TIE,
            "{stem}: voxel {v} is {} here and {} in nnU-Net's, whose top probabilities {:?} are no tie",
            seg.data[v],
            want.data[v],
            &p[..2]
        );
    }
    for label in 1..classes as u8 {
        let a = seg.data.iter().filter(|&&l| l == label).count();
        let b = want.data.iter().filter(|&&l| l == label).count();
        let both = seg
            .data
            .iter()
            .zip(&want.data)
            .filter(|&(&x, &y)| x == label && y == label)
            .count();
        assert!(
            b > 0,
            "{stem}: nnU-Net's segmentation has no label {label}; the fixture is too weak"
        );
        let dice = 2.0 * both as f64 / (a + b) as f64;
        assert!(
            dice >= 0.99,
            "{stem}: Dice of label {label} against nnU-Net = {dice:.4}"
        );
    }
    eprintln!("{stem}: max |Δp| = {worst:.2e}, {differing} of {n} voxels labelled differently");
}

#[test]
fn both_routes_reproduce_nnunet_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture().join("model");
    let run = tmp.path().join("imported");
    let out = unet3d(
        &["import", "nnunet", model.to_str().unwrap()],
        &[("--out", &run)],
    );
    ok(&out, "import nnunet");
    assert!(
        run.join("nnunet.json").is_file() && run.join("checkpoints/fold_1/model.bpk").is_file()
    );

    for case in cases() {
        // Every fold found (0 and 1), ensembled as nnUNetv2_predict does.
        let folder_out = tmp.path().join("folder");
        let import_out = tmp.path().join("import");
        std::fs::create_dir_all(&folder_out).unwrap();
        std::fs::create_dir_all(&import_out).unwrap();
        let (seg, shape, probs) = predict(&model, &case, &[], &folder_out);
        check_against_nnunet(&case, &seg, &shape, &probs);
        let (seg2, shape2, probs2) = predict(&run, &case, &[], &import_out);
        assert_eq!(shape2, shape, "{case}: the import's probabilities shape");
        assert!(
            seg2.data == seg.data,
            "{case}: the import's segmentation differs from the folder's"
        );
        assert!(
            probs2 == probs,
            "{case}: the import's probabilities differ from the folder's"
        );
    }
    // One fold alone.
    let first = &fold0_case();
    let single = tmp.path().join("fold0");
    std::fs::create_dir_all(&single).unwrap();
    let (seg, shape, probs) = predict(&model, first, &["0"], &single);
    check_against_nnunet(&format!("{first}_fold0"), &seg, &shape, &probs);
}

/// The same model on wgpu (lavapipe in CI): fold 0 against nnU-Net's fold-0 output.
#[test]
fn nnunet_model_runs_on_wgpu() {
    let backend = match Backend::select(DeviceChoice::WgpuCpu)
        .or_else(|_| Backend::select(DeviceChoice::Wgpu))
    {
        Ok(b) => b,
        Err(e) => {
            assert!(
                std::env::var("UNET3D_REQUIRE_WGPU").is_err(),
                "wgpu required but unavailable: {e}"
            );
            eprintln!("skipping: {e}");
            return;
        }
    };
    let first = &fold0_case();
    let model = NnunetModel::load(&fixture().join("model"), Some(&[0]), &backend).unwrap();
    let image = read_image(&fixture().join("input").join(format!("{first}_0000.nii.gz"))).unwrap();
    let (probs, _) = model.probabilities(&[image], true).unwrap();
    let labels = model.labels(&probs);
    let mut seg = read_labels(
        &fixture()
            .join("expected")
            .join(format!("{first}_fold0.nii.gz")),
    )
    .unwrap();
    seg.data = labels;
    let shape = vec![probs.len(), seg.dims[2], seg.dims[1], seg.dims[0]];
    let flat: Vec<f32> = probs.concat();
    check_against_nnunet(&format!("{first}_fold0"), &seg, &shape, &flat);
}

/// A copy of the fixture's model folder with `edit` applied to its plans.json.
fn edited_model(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let src = fixture().join("model");
    let dst = dir.join("model");
    std::fs::create_dir_all(dst.join("fold_0")).unwrap();
    for f in [
        "dataset.json",
        "dataset_fingerprint.json",
        "fold_0/checkpoint_final.pth",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    let mut plans: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("plans.json")).unwrap()).unwrap();
    edit(&mut plans);
    std::fs::write(
        dst.join("plans.json"),
        serde_json::to_vec_pretty(&plans).unwrap(),
    )
    .unwrap();
    dst
}

#[test]
fn unsupported_plans_are_refused_naming_the_field_and_value() {
    type Edit = fn(&mut serde_json::Value);
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        (
            "network class",
            |p| {
                p["configurations"]["3d_fullres"]["architecture"]["network_class_name"] =
                    "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet".into()
            },
            &["network_class_name", "ResidualEncoderUNet"],
        ),
        (
            "three convolutions per stage",
            |p| {
                p["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]["n_conv_per_stage"] =
                    serde_json::json!([3, 3, 3, 3])
            },
            &["n_conv_per_stage", "3"],
        ),
        (
            "batch norm",
            |p| {
                p["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]["norm_op"] =
                    "torch.nn.modules.batchnorm.BatchNorm3d".into()
            },
            &["norm_op", "BatchNorm3d"],
        ),
        (
            "cascade stage",
            |p| p["configurations"]["3d_fullres"]["previous_stage"] = "3d_lowres".into(),
            &["previous_stage", "3d_lowres"],
        ),
    ];
    for (what, edit, needles) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let model = edited_model(tmp.path(), edit);
        let input = fixture()
            .join("input")
            .join(format!("{}_0000.nii.gz", fold0_case()));
        let seg = tmp.path().join("seg.nii.gz");
        let out = unet3d(
            &["predict", "--device", "flex"],
            &[("--model", &model), ("--input", &input), ("--output", &seg)],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: predict accepted the plan");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: an error exit, not a crash: {stderr}"
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{what}: the error does not name {needle:?}: {stderr}"
            );
        }
        assert!(
            stderr.contains("plans.json"),
            "{what}: the error does not name the file: {stderr}"
        );
        assert!(!seg.exists(), "{what}: an output was written");
        let run = tmp.path().join("run");
        let out = unet3d(
            &["import", "nnunet", model.to_str().unwrap()],
            &[("--out", &run)],
        );
        assert!(
            !out.status.success() && !run.exists(),
            "{what}: import accepted the plan or left a folder"
        );
    }
}

/// The case nnU-Net also predicted with fold 0 alone (`expected/<case>_fold0.nii.gz`).
fn fold0_case() -> String {
    cases()
        .into_iter()
        .find(|c| {
            fixture()
                .join("expected")
                .join(format!("{c}_fold0.nii.gz"))
                .is_file()
        })
        .expect("a fold-0 prediction in the fixture")
}

#[test]
fn missing_folds_and_damaged_checkpoints_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Backend::select(DeviceChoice::Flex).unwrap();
    let model = fixture().join("model");
    let err = NnunetModel::load(&model, Some(&[3]), &backend)
        .err()
        .expect("fold 3 does not exist");
    assert!(err.to_string().contains('3'), "{err}");

    // Seeded truncations and byte flips of a real checkpoint: every one is an error or (if the flip
    // hit padding) a model, never a panic.
    let good = std::fs::read(model.join("fold_0/checkpoint_final.pth")).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for trial in 0..24 {
        let mut bytes = good.clone();
        if trial % 3 == 0 {
            bytes.truncate((next() as usize) % bytes.len());
        } else {
            for _ in 0..1 + trial % 8 {
                let i = (next() as usize) % bytes.len();
                bytes[i] ^= 1 << (next() % 8);
            }
        }
        let dir = edited_model(&tmp.path().join(format!("t{trial}")), |_| {});
        std::fs::write(dir.join("fold_0/checkpoint_final.pth"), &bytes).unwrap();
        let result =
            std::panic::catch_unwind(|| NnunetModel::load(&dir, Some(&[0]), &backend).map(|_| ()));
        assert!(
            result.is_ok(),
            "trial {trial}: loading a damaged checkpoint panicked"
        );
        if let Ok(Err(e)) = result {
            assert!(
                e.to_string().contains("checkpoint_final.pth"),
                "trial {trial}: {e}"
            );
        }
    }
}
