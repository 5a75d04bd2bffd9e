//! `configurations.<name>.architecture` of `plans.json` → unet3d's network config. nnU-Net's
//! `PlainConvUNet` is one plan of unet3d's one U-Net (per-stage channels and kernels, strided
//! convolutions for down-sampling); anything else is refused naming the field and its value.

use serde_json::Value;

use super::fields::{Fields, usizes};
use crate::error::Result;
use crate::model::{Activation, Downsample, Norm, UNet3dConfig, UpConvWidth};

/// The network of `architecture` as unet3d's config; only `PlainConvUNet` with two
/// convolutions per stage, instance norm and (leaky) ReLU.
pub(super) fn network(f: &Fields, in_channels: usize, heads: usize) -> Result<UNet3dConfig> {
    let arch = Fields {
        path: f.path,
        obj: f.get("architecture")?,
        prefix: f.name("architecture"),
    };
    let class = arch.str("network_class_name")?;
    if !class.ends_with(".PlainConvUNet") && class != "PlainConvUNet" {
        return Err(arch.err(
            "network_class_name",
            format!(
                "= {class:?} is not supported: unet3d runs PlainConvUNet (nnU-Net's default plans)"
            ),
        ));
    }
    let kw = Fields {
        path: f.path,
        obj: arch.get("arch_kwargs")?,
        prefix: arch.name("arch_kwargs"),
    };
    let conv_op = kw.str("conv_op")?;
    if !conv_op.ends_with("Conv3d") {
        return Err(kw.err(
            "conv_op",
            format!("= {conv_op:?}: unet3d runs 3-D networks (use a 3d_* configuration)"),
        ));
    }
    let n_stages = kw
        .get("n_stages")?
        .as_u64()
        .filter(|&n| (2..=9).contains(&n))
        .ok_or_else(|| {
            kw.err(
                "n_stages",
                format!("must be 2 to 9, got {}", kw.obj["n_stages"]),
            )
        })? as usize;
    let list = |key: &str| -> Result<Vec<Value>> {
        match kw.get(key)? {
            Value::Array(a) if a.len() == n_stages => Ok(a.clone()),
            // A single value for every stage is allowed by dynamic_network_architectures.
            v @ Value::Number(_) => Ok(vec![v.clone(); n_stages]),
            v => Err(kw.err(
                key,
                format!("must have n_stages = {n_stages} entries, got {v}"),
            )),
        }
    };
    let features: Vec<usize> = list("features_per_stage")?
        .iter()
        .map(|v| {
            v.as_u64()
                .filter(|&c| (1..=4096).contains(&c))
                .map(|c| c as usize)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| kw.err("features_per_stage", "must be channel counts 1 to 4096"))?;
    let triples = |key: &str| -> Result<Vec<[usize; 3]>> {
        list(key)?
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_u64().map(|k| [k as usize; 3]),
                v => usizes::<3>(v),
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                kw.err(
                    key,
                    format!("must be [z, y, x] triples, got {}", kw.obj[key]),
                )
            })
    };
    let kernels = triples("kernel_sizes")?;
    let strides = triples("strides")?;
    if strides[0] != [1, 1, 1] {
        return Err(kw.err(
            "strides",
            format!(
                "[0] = {:?}: the first stage must keep the full resolution",
                strides[0]
            ),
        ));
    }
    for (key, want) in [
        ("n_conv_per_stage", n_stages),
        ("n_conv_per_stage_decoder", n_stages - 1),
    ] {
        let v = kw.get(key)?;
        let ok = match v {
            Value::Number(n) => n.as_u64() == Some(2),
            Value::Array(a) => a.len() == want && a.iter().all(|x| x.as_u64() == Some(2)),
            _ => false,
        };
        if !ok {
            return Err(kw.err(
                key,
                format!("= {v} is not supported: unet3d's stages have two convolutions"),
            ));
        }
    }
    let norm_op = kw.str("norm_op")?;
    if !norm_op.ends_with("InstanceNorm3d") {
        return Err(kw.err(
            "norm_op",
            format!("= {norm_op:?} is not supported (InstanceNorm3d is)"),
        ));
    }
    let norm_kw = kw.obj.get("norm_op_kwargs").cloned().unwrap_or(Value::Null);
    let eps = norm_kw.get("eps").and_then(Value::as_f64).unwrap_or(1e-5);
    let affine = norm_kw
        .get("affine")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if (eps - 1e-5).abs() > 1e-12 || !affine {
        return Err(kw.err(
            "norm_op_kwargs",
            format!("= {norm_kw} is not supported (eps 1e-5, affine true is)"),
        ));
    }
    let nonlin = kw.str("nonlin")?;
    let nonlin_kw = kw.obj.get("nonlin_kwargs").cloned().unwrap_or(Value::Null);
    let activation = if nonlin.ends_with("LeakyReLU") {
        Activation::LeakyRelu(
            nonlin_kw
                .get("negative_slope")
                .and_then(Value::as_f64)
                .unwrap_or(0.01),
        )
    } else if nonlin.ends_with(".ReLU") || nonlin == "ReLU" {
        Activation::Relu
    } else {
        return Err(kw.err(
            "nonlin",
            format!("= {nonlin:?} is not supported (LeakyReLU, ReLU are)"),
        ));
    };
    if kw.obj.get("nonlin_first").and_then(Value::as_bool) == Some(true) {
        return Err(kw.err("nonlin_first", "= true is not supported"));
    }
    let conv_bias = kw
        .obj
        .get("conv_bias")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let config = UNet3dConfig::new(in_channels, heads)
        .with_base_channels(features[0])
        .with_norm(Norm::Instance)
        .with_activation(activation)
        .with_plan(strides[1..].to_vec())
        .with_deep_supervision(n_stages > 2)
        .with_up_conv_width(UpConvWidth::Skip)
        .with_stage_channels(Some(features))
        .with_conv_kernels(Some(kernels))
        .with_downsample(Downsample::StridedConv)
        .with_conv_bias(conv_bias);
    config
        .validate()
        .map_err(|e| kw.err("strides", format!("/ kernel_sizes: {e}")))?;
    Ok(config)
}
