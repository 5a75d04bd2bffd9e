//! Sections 1 to 3: the data statement, the data summary (from `explore.json`) and the model and training setup (from
//! `config.json`, `run.json`, the checkpoint state and the training log), with their figures.

use super::doc::{Doc, Table};
use super::fmt::{duration, thousands, triple};
use super::inputs::Inputs;
use super::provenance::PHANTOM_WARNING;
use crate::data::prep::augment::AugmentConfig;
use crate::error::Result;
use crate::model::{Activation, Norm, UpConvWidth};
use crate::run::config::optim::OptimizerKind;

fn kv(table: &mut Table, key: &str, value: String) {
    table.row(vec![key.to_string(), value]);
}

/// Section 1: the data statement, with the phantom warning where it applies.
pub(crate) fn data_statement(doc: &mut Doc, inputs: &Inputs) {
    doc.h2("Data statement");
    let info = &inputs.info;
    let mut items = vec![format!(
        "Training data: {}; {} training and {} validation cases (run.json).",
        inputs.train_data.sentence(),
        info.train_cases,
        info.validation_cases
    )];
    match (&inputs.eval, &inputs.eval_data) {
        (Some((_, e)), Some(d)) => items.push(format!(
            "Evaluation data: {}; the {:?} split, {} cases (summary.json).",
            d.sentence(),
            e.split,
            e.summary.n_cases
        )),
        _ => items.push("Evaluation data: not provided.".into()),
    }
    doc.list(items);
    if inputs.phantom() {
        doc.warn(PHANTOM_WARNING);
    } else if inputs.train_data.spec.is_none()
        || inputs.eval_data.as_ref().is_some_and(|d| d.spec.is_none())
    {
        doc.warn(
            "The dataset could not be identified from its dataset.json here; confirm which data these \
             numbers come from before comparing them with published results.",
        );
    }
}

/// Section 2: geometry, classes and the label mapping of the dataset, and one montage.
pub(crate) fn data_summary(doc: &mut Doc, inputs: &Inputs) -> Result<()> {
    doc.h2("Data summary");
    let Some((dir, s)) = &inputs.explore else {
        doc.para("Dataset exploration: not provided (run `unet3d explore --data DATA --out DIR` and pass `--explore DIR`).");
        return Ok(());
    };
    doc.para(format!("From `{}`.", dir.join("explore.json").display()));
    let mut t = Table::new(&["quantity", "value"]);
    kv(&mut t, "dataset", s.dataset.clone());
    let splits: Vec<String> = s
        .cases_per_split
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    kv(
        &mut t,
        "cases",
        format!("{} ({})", s.n_cases, splits.join(", ")),
    );
    kv(
        &mut t,
        "median spacing (mm, i × j × k)",
        triple(s.median_spacing, 3),
    );
    kv(
        &mut t,
        "anisotropy (max / min median spacing)",
        format!("{:.2}", s.anisotropy),
    );
    kv(&mut t, "median dims (voxels)", triple(s.median_dims, 0));
    if let Some(r) = s.pz_cg_ratio {
        kv(&mut t, "median PZ / CG volume", format!("{r:.2}"));
    }
    doc.table(t);
    doc.para(s.label_mapping.clone());
    let mut classes = Table::new(&[
        "value",
        "name",
        "overlay colour",
        "share of all voxels",
        "median volume (mL)",
    ]);
    for c in &s.classes {
        classes.row(vec![
            c.value.to_string(),
            c.name.clone(),
            c.color_name.clone(),
            format!("{:.3} %", 100.0 * c.voxel_fraction),
            c.median_ml.map_or("–".into(), |v| format!("{v:.2}")),
        ]);
    }
    doc.table(classes);
    if let Some(m) = s.figures.montages.first() {
        doc.image(
            &dir.join(m),
            &format!("explore_{m}"),
            &format!("Axial montage with labels ({m})"),
        )?;
    }
    Ok(())
}

pub(crate) fn norm_name(n: &Norm) -> &'static str {
    match n {
        Norm::Batch => "BatchNorm",
        Norm::Instance => "InstanceNorm",
        Norm::None => "no normalisation",
    }
}

fn activation_name(a: &Activation) -> String {
    match a {
        Activation::Relu => "ReLU".into(),
        Activation::LeakyRelu(s) => format!("LeakyReLU (slope {s})"),
    }
}

/// The augmentations that can fire, with probability and strength; "off" when none can.
fn augmentation(a: &AugmentConfig) -> String {
    let mut on = Vec::new();
    if a.mirror_x > 0.0 {
        on.push(format!("mirror x p {}", a.mirror_x));
    }
    if a.rotation.p > 0.0 {
        let r = &a.rotation;
        on.push(format!(
            "rotation p {} (±{}° z, ±{}° x/y)",
            r.p, r.max_deg_z, r.max_deg_xy
        ));
    }
    if a.elastic.p > 0.0 {
        let e = &a.elastic;
        on.push(format!(
            "elastic p {} (σ {} mm, grid {} voxels)",
            e.p, e.sigma_mm, e.grid_voxels
        ));
    }
    let ranged = [
        ("scale", &a.scale),
        ("gamma", &a.gamma),
        ("brightness", &a.brightness),
        ("contrast", &a.contrast),
        ("noise", &a.noise),
        ("blur", &a.blur),
    ];
    for (name, c) in ranged {
        if c.p > 0.0 {
            on.push(format!("{name} p {} [{}, {}]", c.p, c.range[0], c.range[1]));
        }
    }
    if on.is_empty() {
        "off".into()
    } else {
        format!("on: {}", on.join("; "))
    }
}

/// Section 3: every setting that shapes the result, how far training got, and the curves.
pub(crate) fn model_and_training(doc: &mut Doc, inputs: &Inputs) -> Result<()> {
    let (c, info, m) = (&inputs.config, &inputs.info, &inputs.config.model);
    doc.h2("Model and training");
    doc.para(format!(
        "From `{}` (config.json, run.json, checkpoint state, metrics.jsonl).",
        inputs.run.display()
    ));
    let mut t = Table::new(&["setting", "value"]);
    kv(&mut t, "preset", c.preset.clone());
    let pools: Vec<String> = m
        .pool_kernels
        .iter()
        .map(|k| format!("[{}, {}, {}]", k[0], k[1], k[2]))
        .collect();
    kv(
        &mut t,
        "architecture",
        format!(
            "3D U-Net, depth {} ({} resolution levels), base channels {}, {}, {}, pooling kernels (z, y, x) {}, {}",
            m.depth,
            m.depth + 1,
            m.base_channels,
            norm_name(&m.norm),
            activation_name(&m.activation),
            pools.join(" "),
            match m.up_conv_width {
                UpConvWidth::Keep => "up-convolutions keep their channels (the paper)",
                UpConvWidth::Skip => "up-convolutions to the skip's width (nnU-Net)",
            }
        ),
    );
    kv(
        &mut t,
        "input channels / classes",
        format!("{} / {}", m.in_channels, m.num_classes),
    );
    kv(&mut t, "parameters", thousands(info.parameters));
    let p = c.sampler.patch;
    kv(
        &mut t,
        "patch (D × H × W voxels)",
        format!("{} × {} × {}", p[0], p[1], p[2]),
    );
    kv(&mut t, "batch size", c.sampler.batch_size.to_string());
    kv(
        &mut t,
        "foreground oversampling",
        format!("{:.2} of patches", c.sampler.foreground_fraction),
    );
    let o = &c.optim;
    let optimizer = match o.optimizer {
        OptimizerKind::AdamW => "AdamW".to_string(),
        OptimizerKind::Sgd => format!("SGD, Nesterov momentum {}", o.momentum),
    };
    kv(
        &mut t,
        "optimizer",
        format!("{optimizer}, lr {}, weight decay {}", o.lr, o.weight_decay),
    );
    let clip = o.clip_grad_norm.map_or("no gradient clipping".into(), |v| {
        format!("gradient-norm clip {v}")
    });
    kv(
        &mut t,
        "schedule",
        format!(
            "{:?} decay, {} warm-up iterations, {clip}",
            o.decay, o.warmup
        )
        .to_lowercase(),
    );
    let l = &c.loss;
    kv(
        &mut t,
        "loss",
        format!(
            "cross-entropy × {} + soft Dice × {} ({} Dice, background {} the Dice term), ignore label {}",
            l.ce_weight,
            l.dice_weight,
            if l.batch_dice { "batch" } else { "per-sample" },
            if l.dice_include_background {
                "in"
            } else {
                "not in"
            },
            l.ignore_label
        ),
    );
    if m.deep_supervision && m.depth > 1 {
        kv(
            &mut t,
            "deep supervision",
            format!(
                "the same loss at decoder levels 1–{}, weights halving per level",
                m.depth - 1
            ),
        );
    }
    let labels = c
        .sparse_slices
        .map_or("dense (every voxel labelled)".into(), |k| {
            format!("sparse: every {k}-th slice per orientation")
        });
    kv(&mut t, "annotation", labels);
    kv(&mut t, "augmentation", augmentation(&c.augment));
    kv(
        &mut t,
        "target spacing (mm, i × j × k)",
        triple(info.target_spacing, 3),
    );
    kv(
        &mut t,
        "training / validation cases",
        format!("{} / {}", info.train_cases, info.validation_cases),
    );
    kv(&mut t, "backend", info.backend.clone());
    kv(&mut t, "seed", c.seed.to_string());
    match &inputs.state {
        Some(s) => {
            kv(
                &mut t,
                "iterations done",
                format!("{} of {}", s.step, c.iterations),
            );
            kv(&mut t, "training time", duration(s.elapsed_s));
            let best = match (s.best_dice, s.best_step) {
                (Some(d), Some(at)) => format!("{d:.3} at iteration {at}"),
                (Some(d), None) => format!("{d:.3}"),
                _ => "none recorded".into(),
            };
            kv(&mut t, "best mean validation Dice", best);
        }
        None => kv(
            &mut t,
            "iterations done",
            format!("no checkpoint found (of {} configured)", c.iterations),
        ),
    }
    if let Some(last) = inputs.records.last() {
        kv(
            &mut t,
            "last logged iteration",
            format!("{} (loss {:.4}, lr {:.3e})", last.step, last.loss, last.lr),
        );
    }
    doc.table(t);
    doc.image(
        &inputs.run.join("curves.png"),
        "training_curves.png",
        "Training curves: loss, validation Dice per class, learning rate",
    )
}
