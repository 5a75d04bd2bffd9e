//! `dataset.json` of an nnU-Net model folder: the label scheme (plain labels, an ignore label,
//! or region-based definitions), the input channels and the file ending.

use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// How network outputs become labels (nnU-Net's `LabelManager`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelScheme {
    /// Label names by value (index = value), background first.
    pub names: Vec<String>,
    /// Region-based training: the label values of each output channel's region (sigmoid per
    /// channel, no background channel); `None` for softmax over classes.
    pub regions: Option<Vec<Vec<u32>>>,
    /// With regions: the label written for each region, later ones overwriting earlier ones.
    pub regions_class_order: Option<Vec<u8>>,
    /// `labels["ignore"]`: a value without an output channel.
    pub ignore_label: Option<u8>,
}

impl LabelScheme {
    /// Output channels of the network.
    pub fn heads(&self) -> usize {
        match &self.regions {
            Some(r) => r.len(),
            None => self.names.len(),
        }
    }

    /// Label values of the segmentation, background included.
    pub fn label_values(&self) -> usize {
        match &self.regions_class_order {
            Some(order) => order.iter().map(|&v| v as usize + 1).max().unwrap_or(1),
            None => self.names.len(),
        }
    }
}

/// A JSON object's entries in file order (`labels` is ordered: regions follow it).
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Labels, channel names and file ending from `dataset.json`.
pub(super) fn read_dataset(path: &Path, text: &[u8]) -> Result<(LabelScheme, Vec<String>, String)> {
    #[derive(Deserialize)]
    struct Dataset {
        channel_names: Option<Ordered>,
        modality: Option<Ordered>,
        labels: Ordered,
        regions_class_order: Option<Vec<u8>>,
        file_ending: Option<String>,
    }
    let bad = |msg: String| Error::invalid(path, msg);
    let d: Dataset = serde_json::from_slice(text)
        .map_err(|e| bad(format!("not an nnU-Net dataset.json: {e}")))?;
    let channels = d
        .channel_names
        .or(d.modality)
        .ok_or_else(|| bad("has neither channel_names nor modality".into()))?;
    let mut channels: Vec<(usize, String)> = channels
        .0
        .into_iter()
        .map(|(k, v)| {
            let i = k
                .parse::<usize>()
                .map_err(|_| bad(format!("channel_names key {k:?} is not an index")))?;
            Ok((i, v.as_str().unwrap_or_default().to_string()))
        })
        .collect::<Result<_>>()?;
    channels.sort();
    if channels.iter().enumerate().any(|(i, (k, _))| i != *k) || channels.is_empty() {
        return Err(bad("channel_names keys must be 0, 1, … without gaps".into()));
    }
    let mut ignore_label = None;
    let mut scalar: Vec<(u32, String)> = Vec::new();
    for (name, v) in &d.labels.0 {
        let values: Vec<u32> = match v {
            Value::Number(n) => vec![
                n.as_u64()
                    .filter(|&x| x < 255)
                    .ok_or_else(|| bad(format!("labels.{name} = {v} must be 0 to 254")))?
                    as u32,
            ],
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(|x| x.as_u64().filter(|&x| x < 255).map(|x| x as u32))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(format!("labels.{name} = {v} must list values 0 to 254")))?,
            _ => {
                return Err(bad(format!(
                    "labels.{name} = {v} must be a number or a list"
                )));
            }
        };
        if name == "ignore" {
            ignore_label = Some(values[0] as u8);
        } else if values.len() == 1 {
            scalar.push((values[0], name.clone()));
        }
    }
    let has_regions = d
        .labels
        .0
        .iter()
        .any(|(_, v)| v.as_array().is_some_and(|a| a.len() > 1));
    let file_ending = d.file_ending.unwrap_or_else(|| ".nii.gz".into());
    if has_regions {
        let order = d
            .regions_class_order
            .ok_or_else(|| bad("region-based labels need regions_class_order".into()))?;
        let regions: Vec<Vec<u32>> = d
            .labels
            .0
            .iter()
            .filter(|(n, _)| n != "ignore")
            .filter_map(|(_, v)| match v {
                Value::Number(n) if n.as_u64() == Some(0) => None,
                Value::Array(a) if a.iter().all(|x| x.as_u64() == Some(0)) => None,
                Value::Number(n) => Some(vec![n.as_u64().unwrap_or(0) as u32]),
                Value::Array(a) => Some(
                    a.iter()
                        .filter_map(Value::as_u64)
                        .map(|x| x as u32)
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        if order.len() != regions.len() {
            return Err(bad(format!(
                "regions_class_order {order:?} must have one label per region ({})",
                regions.len()
            )));
        }
        let n = order.iter().map(|&v| v as usize + 1).max().unwrap_or(1);
        let mut names: Vec<String> = (0..n).map(|v| format!("label {v}")).collect();
        names[0] = "background".into();
        for (v, name) in &scalar {
            if let Some(slot) = names.get_mut(*v as usize) {
                *slot = name.clone();
            }
        }
        let labels = LabelScheme {
            names,
            regions: Some(regions),
            regions_class_order: Some(order),
            ignore_label,
        };
        return Ok((
            labels,
            channels.into_iter().map(|(_, n)| n).collect(),
            file_ending,
        ));
    }
    scalar.sort();
    if scalar
        .iter()
        .enumerate()
        .any(|(i, (v, _))| *v as usize != i)
    {
        let values: Vec<u32> = scalar.iter().map(|(v, _)| *v).collect();
        return Err(bad(format!(
            "labels must be consecutive from 0, got {values:?}"
        )));
    }
    let labels = LabelScheme {
        names: scalar.into_iter().map(|(_, n)| n).collect(),
        regions: None,
        regions_class_order: None,
        ignore_label,
    };
    Ok((
        labels,
        channels.into_iter().map(|(_, n)| n).collect(),
        file_ending,
    ))
}
