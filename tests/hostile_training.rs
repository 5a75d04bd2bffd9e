//! `unet3d train` against settings a user gets wrong: a batch that cannot fit, overrides given to
//! `--resume`, Ctrl-C, volumes smaller than the patch. Each is a clear error, or what the user
//! expects (nnU-Net pads small volumes), never an abort, a silently ignored flag or an exit 0
//! after an interruption.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use unet3d::data::synth::phantom::PhantomConfig;
use unet3d::data::synth::synth_dataset;

/// Four small phantoms (2 train, 1 validation, 1 test) under `dir`.
fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let cfg = PhantomConfig::small();
    synth_dataset(&data, 4, 11, &cfg).unwrap();
    data
}

fn train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unet3d"))
        .args(["train", "--device", "flex"])
        .args(args)
        .output()
        .expect("unet3d runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_batch_that_cannot_fit_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let run = tmp.path().join("run");
    let started = Instant::now();
    let out = train(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--preset",
        "tiny",
        "--batch",
        "100000",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("batch 100000") && err.contains("lower --batch or --patch"),
        "{err}"
    );
    assert!(!run.join("config.json").exists() && !run.join("cache").exists());
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn resume_refuses_overrides_and_never_rewrites_on_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let run = tmp.path().join("run");
    let out = train(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--preset",
        "tiny",
        "--iterations",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config = std::fs::read(run.join("config.json")).unwrap();
    let out = train(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--resume",
        "--batch",
        "4",
        "--seed",
        "3",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--batch, --seed") && err.contains("--resume"),
        "{err}"
    );
    // An invalid iteration budget fails validation before anything is written.
    let out = train(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--resume",
        "--iterations",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), config);
    // What may change does.
    let out = train(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--resume",
        "--iterations",
        "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn ctrl_c_checkpoints_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let run = tmp.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_unet3d"))
        .args([
            "train",
            "--device",
            "flex",
            "--preset",
            "tiny",
            "--iterations",
            "100000",
        ])
        .args(["--data", s(&data), "--out", s(&run)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is training (a few steps logged), then interrupt it.
    let started = Instant::now();
    while std::fs::read_to_string(run.join("metrics.jsonl")).map_or(true, |t| t.lines().count() < 3)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "training never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");
    assert!(
        run.join("checkpoints/last/state.json").exists(),
        "checkpoint written"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("checkpoints/last/state.json")).unwrap(),
    )
    .unwrap();
    assert!(state["step"].as_u64().unwrap() >= 3);
}

#[test]
fn volumes_smaller_than_the_patch_are_padded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let run = tmp.path().join("run");
    // At the tiny preset's 2 × 2 × 3 mm the phantoms are about 57 × 57 × 17–20 voxels (i, j, k):
    // a 32 × 64 × 64 (D, H, W) patch is larger on every axis.
    let out = train(&[
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--preset",
        "tiny",
        "--iterations",
        "2",
        "--patch",
        "32",
        "64",
        "64",
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("smaller than the patch") && err.contains("padded"),
        "{err}"
    );
}
