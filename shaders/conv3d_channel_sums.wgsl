// Per-channel reductions for the bias / shift / scale gradients of the fused convolution:
//   out[c]      = sum over (n, voxel) of g0,        g0 = dy * act'(y)
//   out[co + c] = sum over (n, voxel) of g0 * u     (u = conv + bias, only when HAS_U)
// One workgroup per channel; each invocation strides over the voxels, then a tree reduction
// in workgroup memory. No atomics.
// info: [n, co, vol]

@group(0) @binding(0) var<storage, read_write> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> yout: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

const WG: u32 = 64u;
const HAS_U: bool = {{ has_u }};

var<workgroup> s0: array<f32, 64>;
var<workgroup> s1: array<f32, 64>;

fn grad_mask(y: f32) -> f32 {
    {{ mask }}
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) l: u32,
) {
    let n = info[0];
    let co = info[1];
    let vol = info[2];
    let linear = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
    let c = min(linear, co - 1u);
    var a0 = 0.0;
    var a1 = 0.0;
    for (var b = 0u; b < n; b = b + 1u) {
        let base = (b * co + c) * vol;
        for (var i = l; i < vol; i = i + WG) {
            let g = dy[base + i] * grad_mask(yout[base + i]);
            a0 = a0 + g;
            if (HAS_U) {
                a1 = a1 + g * u[base + i];
            }
        }
    }
    s0[l] = a0;
    s1[l] = a1;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (l < stride) {
            s0[l] = s0[l] + s0[l + stride];
            s1[l] = s1[l] + s1[l + stride];
        }
        workgroupBarrier();
    }
    if (l == 0u && linear < co) {
        out[c] = s0[0];
        out[co + c] = s1[0];
    }
}
