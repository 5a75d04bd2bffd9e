//! The activation fused into the convolution epilogue, and its WGSL snippets.
//!
//! The backward pass needs the activation's derivative; for ReLU and LeakyReLU with a
//! non-negative slope it follows from the sign of the saved output alone (y > 0 exactly when
//! the pre-activation is > 0), so no pre-activation tensor has to be kept.

use serde::{Deserialize, Serialize};

/// Activation applied after bias, scale and shift.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Activation {
    /// No activation: `y = z`.
    #[default]
    Identity,
    /// `y = max(z, 0)`.
    Relu,
    /// `y = z` for `z > 0`, else `slope * z` (slope must be finite and >= 0).
    LeakyRelu(f32),
}

impl Activation {
    /// A hashable code for kernel ids: (kind, slope bits).
    pub(crate) fn key(self) -> (u8, u32) {
        match self {
            Activation::Identity => (0, 0),
            Activation::Relu => (1, 0),
            Activation::LeakyRelu(s) => (2, s.to_bits()),
        }
    }

    /// The slope for `z <= 0`: 1 for the identity, 0 for ReLU (as the fused flex InstanceNorm
    /// takes it).
    pub fn negative_slope(self) -> f32 {
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => 0.0,
            Activation::LeakyRelu(s) => s,
        }
    }

    /// Checks that the slope keeps the output sign equal to the pre-activation sign.
    pub fn validate(self) -> crate::Result<()> {
        match self {
            Activation::LeakyRelu(s) if !(s.is_finite() && s >= 0.0) => Err(crate::Error::config(
                format!("conv3d: LeakyReLU slope must be finite and >= 0, got {s}"),
            )),
            _ => Ok(()),
        }
    }

    /// WGSL body of `fn act(v: f32) -> f32`.
    pub(crate) fn wgsl_act(self) -> String {
        match self {
            Activation::Identity => "return v;".into(),
            Activation::Relu => "return max(v, 0.0);".into(),
            Activation::LeakyRelu(s) => format!("return select(v * {}, v, v > 0.0);", wgsl_f32(s)),
        }
    }

    /// WGSL body of `fn grad_mask(y: f32) -> f32`: d act / d z, read from the output `y`.
    pub(crate) fn wgsl_mask(self) -> String {
        match self {
            Activation::Identity => "return 1.0;".into(),
            Activation::Relu => "return select(0.0, 1.0, y > 0.0);".into(),
            Activation::LeakyRelu(s) => format!("return select({}, 1.0, y > 0.0);", wgsl_f32(s)),
        }
    }
}

/// An f32 literal WGSL parses back to the same bits.
pub(crate) fn wgsl_f32(v: f32) -> String {
    let s = format!("{v:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_slopes() {
        assert_eq!(Activation::Identity.negative_slope(), 1.0);
        assert_eq!(Activation::Relu.negative_slope(), 0.0);
        assert_eq!(Activation::LeakyRelu(0.01).negative_slope(), 0.01);
    }

    #[test]
    fn f32_literals_round_trip() {
        for v in [0.0f32, 0.01, 1.0, 1e-7, 3.5e10] {
            let s = wgsl_f32(v);
            assert_eq!(s.parse::<f32>().unwrap(), v, "{s}");
            assert!(s.contains('.') || s.contains('e'));
        }
    }

    #[test]
    fn negative_leaky_slope_is_rejected() {
        assert!(Activation::LeakyRelu(-0.1).validate().is_err());
        assert!(Activation::LeakyRelu(f32::NAN).validate().is_err());
        assert!(Activation::LeakyRelu(0.01).validate().is_ok());
    }
}
