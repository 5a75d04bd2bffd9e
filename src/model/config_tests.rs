//! Tests of the model configuration: channel plans, presets, validation, JSON.
use super::*;

#[test]
fn paper_channel_plan_matches_the_paper() {
    let c = UNet3dConfig {
        in_channels: 1,
        ..UNet3dConfig::preset("paper").unwrap()
    };
    assert_eq!(c.encoder_channels(0), [1, 32, 64]);
    assert_eq!(c.encoder_channels(1), [64, 64, 128]);
    assert_eq!(c.encoder_channels(2), [128, 128, 256]);
    assert_eq!(c.encoder_channels(3), [256, 256, 512]); // bottom
    assert_eq!(c.decoder_channels(2), [512, 512, 256, 256]);
    assert_eq!(c.decoder_channels(1), [256, 256, 128, 128]);
    assert_eq!(c.decoder_channels(0), [128, 128, 64, 64]);
    assert_eq!(c.divisor(), [8, 8, 8]);
    c.validate().unwrap();
    let slim = c.with_up_conv_width(UpConvWidth::Skip);
    assert_eq!(slim.decoder_channels(2), [512, 256, 256, 256]);
    assert_eq!(slim.decoder_channels(0), [128, 64, 64, 64]);
}

#[test]
fn presets_validate_and_unknown_lists_valid_names() {
    for name in PRESETS {
        UNet3dConfig::preset(name).unwrap().validate().unwrap();
    }
    let err = UNet3dConfig::preset("huge").unwrap_err().to_string();
    assert!(
        err.contains("\"huge\"") && err.contains("paper, small, tiny"),
        "{err}"
    );
}

#[test]
fn validation_names_the_bad_value() {
    let c = UNet3dConfig::new(1, 3);
    let msg = |c: UNet3dConfig| c.validate().unwrap_err().to_string();
    assert!(
        msg(UNet3dConfig {
            in_channels: 0,
            ..c.clone()
        })
        .contains("in_channels must be > 0, got 0")
    );
    assert!(
        msg(UNet3dConfig {
            num_classes: 0,
            ..c.clone()
        })
        .contains("num_classes")
    );
    assert!(msg(c.clone().with_base_channels(0)).contains("base_channels"));
    assert!(msg(c.clone().with_plan(vec![])).contains("depth must be in 1..=8, got 0"));
    assert!(msg(c.clone().with_depth(2)).contains("depth 2), got 3"));
    let m = msg(c
        .clone()
        .with_pool_kernels(vec![[2, 2, 2], [3, 2, 2], [2, 2, 2]]));
    assert!(
        m.contains("pool_kernels[1]") && m.contains("[3, 2, 2]"),
        "{m}"
    );
    assert!(msg(c.clone().with_activation(Activation::LeakyRelu(f64::NAN))).contains("NaN"));
}

#[test]
fn config_round_trips_through_json() {
    let c = UNet3dConfig::preset("small")
        .unwrap()
        .with_plan(vec![[1, 2, 2], [2, 2, 2], [2, 2, 2]]);
    let json = serde_json::to_string(&c).unwrap();
    let back: UNet3dConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.pool_kernels, c.pool_kernels);
    assert_eq!(back.activation, Activation::LeakyRelu(0.01));
    assert_eq!(back.norm, Norm::Instance);
    assert_eq!(back.to_string(), c.to_string());
}
