//! Background batch production: worker threads sample batches ahead of the trainer, delivered in order.
//!
//! Batch number `n` always uses `Rng::new(seed).fork(n)`, so the batches are the same whatever the number
//! of workers, and a resumed run (`start_batch`) continues the exact sequence. Workers stay at most
//! `2 × workers` batches ahead (bounded memory); the time the caller spends waiting in [`Loader::next`] is
//! summed so the trainer can report how much of a step is spent waiting for data.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::augment::AugmentConfig;
use super::preprocess::Preprocessed;
use super::sampler::{Batch, SamplerConfig, sample_batch};
use crate::error::{Error, Result};
use crate::util::rng::Rng;

/// Produces training batches on worker threads; dropping it stops them.
pub struct Loader {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    waited: Duration,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Next batch number a worker will take.
    next_claim: u64,
    /// Next batch number the caller receives.
    next_deliver: u64,
    /// Finished batches not yet delivered (the reorder buffer).
    ready: BTreeMap<u64, Batch>,
    /// How far workers may run ahead of delivery.
    depth: u64,
    stop: bool,
    /// Set when a worker panicked: the message, re-raised in the caller.
    failed: Option<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Loader {
    /// Starts `workers` threads (at least 1) producing batches `start_batch, start_batch + 1, …`.
    pub fn new(
        cases: Arc<Vec<Preprocessed>>,
        sampler: SamplerConfig,
        aug: AugmentConfig,
        seed: u64,
        start_batch: u64,
        workers: usize,
    ) -> Result<Loader> {
        sampler.validate()?;
        if cases.is_empty() {
            return Err(Error::config("loader: no training cases to sample from"));
        }
        let workers = workers.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_claim: start_batch,
                next_deliver: start_batch,
                ready: BTreeMap::new(),
                depth: 2 * workers as u64,
                stop: false,
                failed: None,
            }),
            changed: Condvar::new(),
        });
        let handles = (0..workers)
            .map(|w| {
                let (shared, cases, sampler, aug) =
                    (shared.clone(), cases.clone(), sampler.clone(), aug.clone());
                std::thread::Builder::new()
                    .name(format!("loader-{w}"))
                    .spawn(move || work(&shared, &cases, &sampler, &aug, seed))
                    .map_err(|e| {
                        Error::config(format!("loader: cannot start a worker thread: {e}"))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Loader {
            shared,
            handles,
            waited: Duration::ZERO,
        })
    }

    /// The next batch in order, waiting for it if needed. Panics if a worker panicked (a bug).
    pub fn next(&mut self) -> Batch {
        let t0 = Instant::now();
        let mut st = self.shared.lock();
        let batch = loop {
            let n = st.next_deliver;
            if let Some(b) = st.ready.remove(&n) {
                st.next_deliver += 1;
                break b;
            }
            if let Some(msg) = &st.failed {
                panic!("loader worker failed: {msg}");
            }
            st = self
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        };
        drop(st);
        self.shared.changed.notify_all(); // room for workers to run ahead again
        self.waited += t0.elapsed();
        batch
    }

    /// Total seconds the caller has spent waiting in [`Loader::next`].
    pub fn wait_seconds(&self) -> f64 {
        self.waited.as_secs_f64()
    }

    /// The number of the batch the next call to [`Loader::next`] returns (for checkpoints / resume).
    pub fn next_batch_number(&self) -> u64 {
        self.shared.lock().next_deliver
    }
}

fn work(
    shared: &Shared,
    cases: &[Preprocessed],
    sampler: &SamplerConfig,
    aug: &AugmentConfig,
    seed: u64,
) {
    loop {
        let n = {
            let mut st = shared.lock();
            while !st.stop && st.next_claim >= st.next_deliver + st.depth {
                st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stop {
                return;
            }
            st.next_claim += 1;
            st.next_claim - 1
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sample_batch(cases, sampler, aug, &mut Rng::new(seed).fork(n))
        }));
        let mut st = shared.lock();
        match result {
            Ok(batch) => {
                st.ready.insert(n, batch);
            }
            Err(e) => {
                let msg = e
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned());
                st.failed = Some(format!(
                    "batch {n}: {}",
                    msg.unwrap_or_else(|| "panic".into())
                ));
            }
        }
        drop(st);
        shared.changed.notify_all();
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Affine;

    fn cases() -> Arc<Vec<Preprocessed>> {
        let make = |id: &str, dims: [usize; 3], off: f32| {
            let n = dims.iter().product::<usize>();
            let label: Vec<u8> = (0..n)
                .map(|v| (v % 17 == 0) as u8 + (v % 31 == 0) as u8)
                .collect();
            let mut class_locations = vec![Vec::new(); 3];
            for (i, &v) in label.iter().enumerate().filter(|(_, v)| **v > 0) {
                class_locations[v as usize].push(i as u32);
            }
            Preprocessed {
                id: id.into(),
                image: (0..n).map(|v| (v as f32 * 0.01 + off).sin()).collect(),
                label,
                dims,
                spacing: [0.6, 0.6, 2.5],
                crop: ([0; 3], dims),
                original_dims: dims,
                original_affine: Affine::identity(),
                original_spacing: [0.6, 0.6, 2.5],
                class_locations,
            }
        };
        Arc::new(vec![
            make("a", [24, 20, 8], 0.0),
            make("b", [18, 26, 6], 1.0),
        ])
    }

    fn config() -> (SamplerConfig, AugmentConfig) {
        let mut aug = AugmentConfig::default();
        aug.rotation.p = 0.5;
        aug.elastic.p = 0.5;
        aug.elastic.grid_voxels = 8;
        (
            SamplerConfig {
                patch: [4, 12, 12],
                batch_size: 2,
                foreground_fraction: 1.0 / 3.0,
            },
            aug,
        )
    }

    fn take(workers: usize, start: u64, count: usize) -> Vec<Batch> {
        let (s, a) = config();
        let mut loader = Loader::new(cases(), s, a, 42, start, workers).unwrap();
        let out = (0..count).map(|_| loader.next()).collect();
        assert_eq!(loader.next_batch_number(), start + count as u64);
        assert!(loader.wait_seconds() >= 0.0);
        out
    }

    #[test]
    fn batches_do_not_depend_on_worker_count_and_resume_continues() {
        let one = take(1, 0, 8);
        let three = take(3, 0, 8);
        assert_eq!(one, three);
        assert_ne!(one[0], one[1]);
        // batch n is exactly sample_batch with Rng::new(seed).fork(n)
        let (s, a) = config();
        assert_eq!(
            one[5],
            sample_batch(&cases(), &s, &a, &mut Rng::new(42).fork(5))
        );
        // resuming at batch 5 continues the same sequence
        assert_eq!(take(2, 5, 3), one[5..8].to_vec());
    }

    #[test]
    fn empty_case_list_is_an_error_and_drop_stops_workers() {
        let (s, a) = config();
        assert!(Loader::new(Arc::new(Vec::new()), s.clone(), a.clone(), 1, 0, 2).is_err());
        // dropping a loader whose workers are blocked on a full prefetch buffer returns promptly.
        let loader = Loader::new(cases(), s, a, 1, 0, 4).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(loader);
    }
}
