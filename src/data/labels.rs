//! Label maps compared and derived: per-class overlap counts with Dice and IoU (Jaccard), and the
//! arg-max that turns class probabilities into labels. Here, below every stage, because training
//! (validation), inference and evaluation all use them; the full metrics are `crate::metrics`.
//!
//! Convention for empty structures: when both reference and prediction are empty the class is a
//! perfect match (Dice = IoU = 1); when exactly one is empty, Dice = IoU = 0. Never NaN.

use serde::{Deserialize, Serialize};

/// True-positive, false-positive and false-negative voxel counts of one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

impl Counts {
    /// Counts for `class`, skipping voxels whose reference equals `ignore`.
    pub fn of(pred: &[u8], reference: &[u8], class: u8, ignore: Option<u8>) -> Self {
        let mut c = Counts::default();
        for (&p, &r) in pred.iter().zip(reference) {
            if Some(r) == ignore {
                continue;
            }
            match (p == class, r == class) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                _ => {}
            }
        }
        c
    }

    pub fn dice(&self) -> f64 {
        let denom = 2 * self.tp + self.fp + self.fn_;
        if denom == 0 {
            1.0
        } else {
            2.0 * self.tp as f64 / denom as f64
        }
    }

    pub fn iou(&self) -> f64 {
        let denom = self.tp + self.fp + self.fn_;
        if denom == 0 {
            1.0
        } else {
            self.tp as f64 / denom as f64
        }
    }

    pub fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

/// Dice for each class `1..classes` (background excluded).
pub fn foreground_dice(
    pred: &[u8],
    reference: &[u8],
    classes: usize,
    ignore: Option<u8>,
) -> Vec<f64> {
    (1..classes as u8)
        .map(|c| Counts::of(pred, reference, c, ignore).dice())
        .collect()
}

/// Arg-max over per-class probability buffers.
pub fn argmax(probs: &[Vec<f32>]) -> Vec<u8> {
    let n = probs.first().map_or(0, |p| p.len());
    (0..n)
        .map(|v| {
            let mut best = 0;
            for c in 1..probs.len() {
                if probs[c][v] > probs[best][v] {
                    best = c;
                }
            }
            best as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_dice_and_iou() {
        let reference = [1, 1, 1, 1, 0, 0, 0, 0];
        let pred = [1, 1, 0, 0, 1, 0, 0, 0];
        let c = Counts::of(&pred, &reference, 1, None);
        assert_eq!(
            c,
            Counts {
                tp: 2,
                fp: 1,
                fn_: 2
            }
        );
        assert!((c.dice() - 4.0 / 7.0).abs() < 1e-12);
        assert!((c.iou() - 2.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn empty_conventions_and_ignore() {
        assert_eq!(Counts::of(&[0, 0], &[0, 0], 1, None).dice(), 1.0);
        assert_eq!(Counts::of(&[1, 0], &[0, 0], 1, None).dice(), 0.0);
        assert_eq!(Counts::of(&[1, 1], &[1, 255], 1, Some(255)).dice(), 1.0);
    }

    #[test]
    fn argmax_picks_the_largest() {
        let p = vec![vec![0.6, 0.1], vec![0.3, 0.2], vec![0.1, 0.7]];
        assert_eq!(argmax(&p), vec![0, 2]);
    }
}
