// Weight gradient of the fused convolution, NCDHW f32, stride 1, same padding:
//   dw[co][ci][kd][kh][kw] = sum over (n, z, y, x) of g[n][co][z][y][x] * xin[n][ci][z+kd-P][y+kh-P][x+kw-P]
// with g = dy * act'(y) * scale[co] formed on the fly (the activation mask is read from the
// saved output's sign, so no separate masking pass).
//
// Workgroup = (block of WG x RCI input channels, block of RC output channels, slice of voxel
// rows). Invocation = RCI input channels: it keeps K^3 taps x RC output x RCI input channels in
// registers and slides a K-wide window of each input row along W, so each input value is loaded
// once per (kd, kh) and each g value once per row. Each slice writes its own partial sums to `part`
// (summed by conv3d_sum_slices.wgsl): no two workgroups write one element, no atomics.
//
// info: [n, ci, co, d, h, w, ci_blocks, co_blocks, slices, rows_per_slice, total]

@group(0) @binding(0) var<storage, read_write> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> yout: array<f32>;
@group(0) @binding(2) var<storage, read_write> xin: array<f32>;
@group(0) @binding(3) var<storage, read_write> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
@group(0) @binding(5) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ wg }}u;
const RC: u32 = {{ rc }}u;
const RCI: u32 = {{ rci }}u;
const K: u32 = {{ k }}u;
const PAD: i32 = {{ pad }};
const K3: u32 = K * K * K;

fn grad_mask(y: f32) -> f32 {
    {{ mask }}
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) l: u32,
) {
    let n_ci = info[1];
    let n_co = info[2];
    let dd = info[3];
    let hh = info[4];
    let ww = info[5];
    let ci_blocks = info[6];
    let co_blocks = info[7];
    let rows_per_slice = info[9];
    let total = info[10];
    let plane = hh * ww;
    let vol = dd * plane;
    let rows = info[0] * dd * hh;

    let linear = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
    let live = linear < total;
    var r = min(linear, total - 1u);
    let cib = r % ci_blocks;
    r = r / ci_blocks;
    let cob = r % co_blocks;
    let slice = r / co_blocks;

    let ci_first = (cib * WG + l) * RCI;
    let co0 = cob * RC;
    let row0 = slice * rows_per_slice;
    let row1 = min(row0 + rows_per_slice, rows);

{{ body }}
}
