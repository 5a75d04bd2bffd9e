//! The CPU kernels for burn's flex backend: the conv forward (`conv_forward`) and its weight
//! gradient (`weight_grad`) over a shared row unfold (`unfold`), wired into flex with autodiff by
//! `flex_conv`; InstanceNorm + activation in one pass (`instance_norm`), wired in by
//! `flex_norm_act`; max pooling with its arg-max backward (`flex_max_pool`); the decoder's up-convolution
//! (`up_conv`, wired in by `flex_up_conv`); the direct conv and weight gradient (`direct_conv`,
//! `direct_weight_grad`) that `flex_conv` runs on AVX2 / AVX-512 CPUs.

pub mod channel_conv;
pub mod channel_weight_grad;
pub mod conv_forward;
pub mod direct_conv;
pub mod direct_weight_grad;
pub mod flex_concat;
pub mod flex_conv;
pub mod flex_max_pool;
pub mod flex_norm_act;
pub mod flex_softmax;
pub mod flex_up_conv;
pub mod instance_norm;
pub mod pad;
pub mod shared_out;
pub mod unfold;
pub mod up_conv;
pub mod weight_grad;
