//! `unet3d demo`: the whole pipeline on the embedded default data — synthetic phantoms → explore →
//! train → evaluate on the held-out phantoms → report — ending with the report's path and the headline Dice.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::device::DeviceArgs;
use crate::data::dataset::{Dataset, Split};
use crate::data::synth::phantom::PhantomConfig;
use crate::data::synth::synth_dataset;
use crate::infer::Ensemble;
use crate::infer::predict::{PredictOptions, Predictor};
use crate::metrics::evaluate::evaluate;
use crate::report::explore::explore;
use crate::report::run_report::{headline, write_report};
use crate::run::{RunDir, TrainConfig};
use crate::train::{self, TrainOptions};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder (data, explore, run, eval).
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Number of phantoms (about 60/20/20 train/validation/test).
    #[arg(long, default_value_t = 12)]
    pub cases: usize,
    /// Training iterations (default: the demo preset's).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Seed for the phantoms and the training run.
    #[arg(long, default_value_t = 2013)]
    pub seed: u64,
}

pub fn demo_cmd(a: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let backend = a.device.select()?;
    let data = a.out.join("data");
    let ds = if data.join("dataset.json").exists() {
        println!("[1/5] reusing phantoms in {}", data.display());
        Dataset::open(&data)?
    } else {
        println!(
            "[1/5] generating {} synthetic prostate phantoms in {}",
            a.cases,
            data.display()
        );
        synth_dataset(&data, a.cases, a.seed, &PhantomConfig::default())?
    };

    println!("[2/5] exploring the dataset");
    let explore_dir = a.out.join("explore");
    let summary = explore(&ds, &explore_dir)?;
    println!("      {}", summary.label_mapping);

    println!("[3/5] training the demo preset");
    let run = a.out.join("run");
    let mut cfg = TrainConfig::preset("demo")?;
    cfg.seed = a.seed;
    let resume = RunDir::new(&run)
        .last()
        .join(crate::run::checkpoint::STATE_FILE)
        .exists();
    let opts = TrainOptions {
        resume,
        progress: std::io::stderr().is_terminal(),
        iterations: a.iterations,
        ..TrainOptions::default()
    };
    let outcome = train::train(&ds, &run, cfg, &backend, &opts)
        .with_context(|| format!("training into {}", run.display()))?;
    println!(
        "      {} iterations, {:.0} s",
        outcome.state.step, outcome.state.elapsed_s
    );
    if outcome.interrupted {
        return Err(super::exit::Interrupted(format!(
            "demo interrupted while training (step {}); run it again to resume",
            outcome.state.step
        ))
        .into());
    }

    println!("[4/5] evaluating on the held-out test phantoms at native resolution");
    let predictor = Predictor::load(&run, &backend)?;
    let eval_dir = a.out.join("eval");
    let eval = evaluate(
        &Ensemble::single(predictor)?,
        &ds,
        Split::Test,
        &eval_dir,
        &PredictOptions::default(),
        &backend.describe(),
    )?;
    println!("{}", eval.summary.to_markdown());

    println!("[5/5] writing the report");
    let paths = write_report(
        &run,
        Some(&eval_dir),
        Some(&explore_dir),
        &a.out.join("report"),
    )?;
    println!("report: {}", paths.html.display());
    println!("{}", headline(&eval));
    println!("demo finished in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
