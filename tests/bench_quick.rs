//! `unet3d bench --quick` as CI runs it: every row (flex, and wgpu on lavapipe with the WGSL
//! kernels) completes, and the table, bench.json and chart are written with finite, positive
//! figures. A smoke test of the benchmark, not a speed assertion. The `builtin` rows run the same
//! code with the other kernel choice; they are left out here because burn's conv autotuning
//! compiles for minutes on lavapipe (the whole-U-Net equality test already runs that path).

use std::process::Command;

#[test]
fn quick_bench_writes_a_complete_table_json_and_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench");
    let wgpu = std::env::var_os("UNET3D_REQUIRE_WGPU").is_some();
    // Without the CI flag, flex only: a machine without an adapter must not fail this test.
    let backends = if wgpu { "flex,wgpu" } else { "flex" };
    let status = Command::new(env!("CARGO_BIN_EXE_unet3d"))
        .args([
            "bench",
            "--quick",
            "--kernels",
            "wgsl",
            "--backends",
            backends,
        ])
        .arg("--out")
        .arg(&out)
        .status()
        .expect("unet3d runs");
    assert!(status.success(), "unet3d bench --quick failed");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let targets = if wgpu { 2 } else { 1 };
    assert_eq!(rows.len(), 5 * targets, "5 workloads per target");
    for r in rows {
        let sample = r["result"]["measurement"]["samples_s"][0].as_f64().unwrap();
        assert!(sample > 0.0 && sample.is_finite(), "{r}");
        assert!(r["speedup"].as_f64().unwrap() > 0.0, "{r}");
    }
    let md = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(md.contains("| target | workload |") && md.contains("sliding window"));
    let png = std::fs::read(out.join("bench.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}
