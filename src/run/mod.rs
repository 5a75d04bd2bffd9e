//! The run folder: what a trained (or training) model is on disk, owned here so that training,
//! inference, evaluation and the report read and write it the same way.
//!
//! ```text
//! RUN/config.json            everything the run depends on (TrainConfig)
//! RUN/run.json               facts inference needs besides the config (RunInfo)
//! RUN/metrics.jsonl          one line per iteration (History)
//! RUN/curves.png             loss, validation Dice, learning rate
//! RUN/checkpoints/last/      model.bpk, optimizer.bpk, state.json (the final model)
//! RUN/checkpoints/best/      model.bpk, state.json (the best-validated model)
//! RUN/cache/                 preprocessed cases
//! ```
//!
//! [`LoadedRun::open`] loads a run (or one of its checkpoints) for inference, with the
//! `--kernels` override applied.

pub mod checkpoint;
pub mod config;
pub mod cv_layout;
pub mod history;
pub mod info;
pub mod layout;
pub mod load;

pub use config::TrainConfig;
pub use cv_layout::CvDir;
pub use info::RunInfo;
pub use layout::RunDir;
pub use load::LoadedRun;
