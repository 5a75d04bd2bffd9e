//! What a user sees while training runs: a progress bar on a terminal (a status line every ten
//! steps otherwise), and Ctrl-C, which asks the loop to stop at the next step and checkpoint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::run::history::History;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler once per process.
pub(super) fn install_ctrlc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A second Ctrl-C while the checkpoint is written still waits for it: the flag is only read.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

/// Whether Ctrl-C was pressed.
pub(super) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

pub(super) fn progress_bar(show: bool, total: usize, start: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start as u64);
    bar
}

pub(super) fn status_line(
    h: &History,
    names: &[String],
    steps_this_session: usize,
    steps_left: usize,
    since: Instant,
) -> String {
    let its = steps_this_session as f64 / since.elapsed().as_secs_f64().max(1e-9);
    let last_val = h.records.iter().rev().find_map(|r| r.val_dice.clone());
    let eta = (steps_left as f64 / its.max(1e-9)).min(1e7) as u64;
    format!(
        "loss {:.4} | val Dice {} | {:.2} it/s | data wait {:.0} % | ETA {}:{:02}:{:02}",
        h.smoothed_loss(10).unwrap_or(f64::NAN),
        last_val
            .map(|d| fmt_dice(names, &d))
            .unwrap_or_else(|| "-".into()),
        its,
        h.data_wait_share(20) * 100.0,
        eta / 3600,
        eta / 60 % 60,
        eta % 60
    )
}

pub fn fmt_dice(names: &[String], dice: &[f64]) -> String {
    names
        .iter()
        .zip(dice)
        .map(|(n, d)| format!("{n} {d:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
