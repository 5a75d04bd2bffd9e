//! `curves.png`: three stacked charts — training loss (total, CE, Dice terms), validation Dice per
//! class, learning rate — redrawn from the metrics log at every validation.

use std::path::Path;

use crate::error::Result;
use crate::plot::canvas::Canvas;
use crate::plot::chart::{LineChart, Series, series_color};
use crate::run::history::Record;

const WIDTH: u32 = 900;
const PANEL: u32 = 380;

pub fn plot(records: &[Record], out: &Path, class_names: &[String]) -> Result<()> {
    let pts = |f: &dyn Fn(&Record) -> f64| -> Vec<(f64, f64)> {
        records.iter().map(|r| (r.step as f64, f(r))).collect()
    };
    let line = |name: &str, i: usize, points: Vec<(f64, f64)>| Series {
        name: name.into(),
        points,
        color: series_color(i),
    };
    let loss = LineChart {
        title: "Training loss".into(),
        x_label: "iteration".into(),
        y_label: "loss".into(),
        series: vec![
            line("total", 0, smooth(&pts(&|r| r.loss), 10)),
            line("cross-entropy", 1, smooth(&pts(&|r| r.ce), 10)),
            line("1 - soft Dice", 2, smooth(&pts(&|r| r.dice_loss), 10)),
        ],
        y_range: None,
        log_y: false,
    };
    let val: Vec<&Record> = records.iter().filter(|r| r.val_dice.is_some()).collect();
    let dice = LineChart {
        title: "Validation Dice".into(),
        x_label: "iteration".into(),
        y_label: "Dice".into(),
        series: class_names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let p = val.iter().filter_map(|r| {
                    r.val_dice
                        .as_ref()
                        .and_then(|d| d.get(c))
                        .map(|d| (r.step as f64, *d))
                });
                line(name, c + 3, p.collect())
            })
            .collect(),
        y_range: Some((0.0, 1.0)),
        log_y: false,
    };
    let lr = LineChart {
        title: "Learning rate".into(),
        x_label: "iteration".into(),
        y_label: "lr".into(),
        series: vec![line("lr", 6, pts(&|r| r.lr))],
        y_range: None,
        log_y: true,
    };
    let mut canvas = Canvas::new(WIDTH, PANEL * 3, [255, 255, 255]);
    for (i, chart) in [loss, dice, lr].iter().enumerate() {
        canvas.blit(&chart.render(WIDTH, PANEL), 0, (i as u32 * PANEL) as i64);
    }
    canvas.save_png(out)
}

/// Trailing moving average, so a noisy per-iteration loss reads as a trend.
fn smooth(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            let lo = i.saturating_sub(window - 1);
            let w = &points[lo..=i];
            (
                points[i].0,
                w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_of_a_constant_is_constant_and_curves_render() {
        let s = smooth(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)], 2);
        assert_eq!(s, vec![(1.0, 2.0), (2.0, 3.0), (3.0, 5.0)]);
        let recs: Vec<Record> = (1..=5)
            .map(|step| Record {
                step,
                lr: 1e-3,
                loss: 1.0 / step as f64,
                ce: 0.5,
                dice_loss: 0.5,
                data_wait_s: 0.0,
                step_s: 0.1,
                val_dice: (step % 2 == 0).then(|| vec![0.5, 0.6]),
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("curves.png");
        plot(&recs, &out, &["PZ".into(), "CG".into()]).unwrap();
        let img = image::open(&out).unwrap();
        assert_eq!((img.width(), img.height()), (WIDTH, PANEL * 3));
    }
}
