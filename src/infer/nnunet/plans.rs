//! `plans.json` + `dataset.json` of an nnU-Net v2 model folder → what inference needs
//! ([`NnunetPlan`], saved as `nnunet.json` in an imported run) and the network as a
//! [`UNet3dConfig`]. Anything unet3d does not reproduce is refused here, naming the field and
//! its value, before a weight is read.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::architecture::network;
pub use super::dataset_json::LabelScheme;
use super::dataset_json::read_dataset;
use super::fields::Fields;
use super::resample::ResampleKwargs;
use crate::error::{Error, Result};
use crate::model::UNet3dConfig;

/// Version of `nnunet.json`.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Intensity normalisation of one input channel (`normalization_schemes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme")]
pub enum Normalization {
    /// `(x − mean) / max(std, 1e-8)` over the cropped image, or only inside the non-zero mask.
    ZScore {
        use_mask: bool,
    },
    /// Clip to the dataset's foreground percentiles, then the dataset's mean and std.
    Ct {
        mean: f64,
        std: f64,
        lower: f64,
        upper: f64,
    },
    NoNormalization,
    RescaleTo01,
    RgbTo01,
}

/// Everything nnU-Net's predictor takes from the model folder, for one configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NnunetPlan {
    pub format_version: u32,
    pub dataset_name: String,
    pub configuration: String,
    /// The trainer class the checkpoints name.
    pub trainer: String,
    pub channel_names: Vec<String>,
    pub file_ending: String,
    pub transpose_forward: [usize; 3],
    pub transpose_backward: [usize; 3],
    /// Target spacing, axes after `transpose_forward`.
    pub spacing: [f64; 3],
    pub patch_size: [usize; 3],
    pub normalization: Vec<Normalization>,
    pub data_resampling: ResampleKwargs,
    pub probabilities_resampling: ResampleKwargs,
    pub labels: LabelScheme,
    /// The checkpoint's `inference_allowed_mirroring_axes` (`None`: no mirroring).
    pub mirror_axes: Option<Vec<usize>>,
    /// The network.
    pub model: UNet3dConfig,
}

/// Reads a JSON file (bounded: plans are kilobytes).
pub fn read_json(path: &Path) -> Result<Value> {
    let bytes = crate::util::fsio::read_at_most(path, 64 << 20)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::invalid(path, format!("not JSON: {e}")))
}

/// Builds the plan of `configuration` from the parsed `plans.json` and `dataset.json`.
/// `trainer` and `mirror_axes` come from the checkpoint.
pub fn plan_from(
    plans_path: &Path,
    plans: &Value,
    dataset_path: &Path,
    dataset_text: &[u8],
    configuration: &str,
    trainer: &str,
    mirror_axes: Option<Vec<usize>>,
) -> Result<NnunetPlan> {
    let bad = |msg: String| Error::invalid(plans_path, msg);
    let conf = resolve_configuration(plans, configuration).map_err(bad)?;
    let f = Fields {
        path: plans_path,
        obj: &conf,
        prefix: format!("configurations.{configuration}"),
    };
    if conf.get("previous_stage").is_some_and(|v| !v.is_null()) {
        return Err(bad(format!(
            "configuration {configuration:?} is a cascade stage (previous_stage = {}): it needs the \
             low-resolution stage's predictions, which unet3d does not run; use 3d_fullres",
            conf["previous_stage"]
        )));
    }
    let top = Fields {
        path: plans_path,
        obj: plans,
        prefix: String::new(),
    };
    let transpose_forward = permutation(&top, "transpose_forward")?;
    let transpose_backward = permutation(&top, "transpose_backward")?;
    let spacing = f.f64s::<3>("spacing")?;
    let patch_size = f.usizes::<3>("patch_size")?;
    let (labels, channel_names, file_ending) = read_dataset(dataset_path, dataset_text)?;
    let normalization = normalization(&f, &top, channel_names.len())?;
    let data_resampling = resampling(&f, "data")?;
    let probabilities_resampling = resampling(&f, "probabilities")?;
    let model = network(&f, channel_names.len(), labels.heads())?;
    crate::model::check_divisible(patch_size, &model.pool_kernels)
        .map_err(|e| bad(format!("{}.patch_size {patch_size:?}: {e}", f.prefix)))?;
    for reader in ["image_reader_writer"] {
        if let Some(Value::String(s)) = plans.get(reader)
            && s.contains("Reorient")
        {
            return Err(bad(format!(
                "{reader} = {s:?} reorients images to RAS before the network; unet3d reads \
                 voxels in file order as SimpleITKIO and NibabelIO do"
            )));
        }
    }
    Ok(NnunetPlan {
        format_version: PLAN_FORMAT_VERSION,
        dataset_name: plans
            .get("dataset_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        configuration: configuration.to_string(),
        trainer: trainer.to_string(),
        channel_names,
        file_ending,
        transpose_forward,
        transpose_backward,
        spacing,
        patch_size,
        normalization,
        data_resampling,
        probabilities_resampling,
        labels,
        mirror_axes,
        model,
    })
}

/// `configurations[name]` with `inherits_from` resolved (parent first, child keys on top).
fn resolve_configuration(plans: &Value, name: &str) -> std::result::Result<Value, String> {
    let mut chain = vec![name.to_string()];
    let configs = plans
        .get("configurations")
        .and_then(Value::as_object)
        .ok_or("no \"configurations\" object")?;
    loop {
        let current = chain.last().unwrap();
        let conf = configs.get(current).ok_or_else(|| {
            let known: Vec<&String> = configs.keys().collect();
            format!("no configuration {current:?} (the plans have {known:?})")
        })?;
        match conf.get("inherits_from").and_then(Value::as_str) {
            Some(parent) if chain.len() < 16 && !chain.iter().any(|c| c == parent) => {
                chain.push(parent.to_string())
            }
            Some(parent) => {
                return Err(format!(
                    "configuration {current:?} inherits from {parent:?} in a loop"
                ));
            }
            None => break,
        }
    }
    let mut merged = serde_json::Map::new();
    for name in chain.iter().rev() {
        if let Some(obj) = configs[name].as_object() {
            for (k, v) in obj {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(merged))
}

fn permutation(f: &Fields, key: &str) -> Result<[usize; 3]> {
    let v = f.get(key)?;
    let a: Option<Vec<u64>> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect());
    match a {
        Some(a) if a.len() == 3 && (0..3u64).all(|i| a.contains(&i)) => {
            Ok(std::array::from_fn(|i| a[i] as usize))
        }
        _ => Err(f.err(key, format!("must be a permutation of [0, 1, 2], got {v}"))),
    }
}

fn normalization(f: &Fields, top: &Fields, channels: usize) -> Result<Vec<Normalization>> {
    let schemes = f.get("normalization_schemes")?;
    let schemes: Vec<&str> = schemes
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .filter(|s: &Vec<&str>| s.len() == channels)
        .ok_or_else(|| {
            f.err(
                "normalization_schemes",
                format!("must name one scheme per input channel ({channels}), got {schemes}"),
            )
        })?;
    let masks = f
        .get("use_mask_for_norm")?
        .as_array()
        .cloned()
        .unwrap_or_default();
    let props = top
        .obj
        .get("foreground_intensity_properties_per_channel")
        .or_else(|| top.obj.get("foreground_intensity_properties_by_modality"));
    schemes
        .iter()
        .enumerate()
        .map(|(c, scheme)| {
            Ok(match *scheme {
                "ZScoreNormalization" => Normalization::ZScore {
                    use_mask: masks.get(c).and_then(Value::as_bool).unwrap_or(false),
                },
                "CTNormalization" => {
                    let p = props.and_then(|p| p.get(c.to_string())).ok_or_else(|| {
                        top.err(
                            "foreground_intensity_properties_per_channel",
                            format!("has no entry {c:?}, which CTNormalization needs"),
                        )
                    })?;
                    let num = |k: &str| {
                        p.get(k)
                            .and_then(Value::as_f64)
                            .filter(|v| v.is_finite())
                            .ok_or_else(|| {
                                top.err(
                                    "foreground_intensity_properties_per_channel",
                                    format!("[{c:?}].{k} must be a number, got {:?}", p.get(k)),
                                )
                            })
                    };
                    Normalization::Ct {
                        mean: num("mean")?,
                        std: num("std")?,
                        lower: num("percentile_00_5")?,
                        upper: num("percentile_99_5")?,
                    }
                }
                "NoNormalization" => Normalization::NoNormalization,
                "RescaleTo01Normalization" => Normalization::RescaleTo01,
                "RGBTo01Normalization" => Normalization::RgbTo01,
                other => {
                    return Err(f.err(
                        "normalization_schemes",
                        format!(
                            "[{c}] = {other:?} is not supported (ZScoreNormalization, \
                             CTNormalization, NoNormalization, RescaleTo01Normalization, \
                             RGBTo01Normalization are)"
                        ),
                    ));
                }
            })
        })
        .collect()
}

fn resampling(f: &Fields, what: &str) -> Result<ResampleKwargs> {
    let key = format!("resampling_fn_{what}");
    let name = f.str(&key)?;
    if name != "resample_data_or_seg_to_shape" {
        return Err(f.err(
            &key,
            format!("= {name:?} is not supported (resample_data_or_seg_to_shape is)"),
        ));
    }
    let kw_key = format!("resampling_fn_{what}_kwargs");
    let kw = f.get(&kw_key)?;
    let order = kw.get("order").and_then(Value::as_u64);
    let order_z = kw.get("order_z").and_then(Value::as_u64).unwrap_or(0);
    let force = kw.get("force_separate_z").and_then(Value::as_bool);
    match order {
        Some(o @ (0 | 1 | 3)) if order_z <= 1 => Ok(ResampleKwargs {
            order: o as u8,
            order_z: order_z as u8,
            force_separate_z: force,
        }),
        _ => Err(f.err(
            &kw_key,
            format!("{kw}: order must be 0, 1 or 3 and order_z 0 or 1"),
        )),
    }
}
