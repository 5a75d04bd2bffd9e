// Tiled direct 3-D convolution, NCDHW f32, stride 1, same padding (forward and input gradient).
//
// Invocations form a lane grid of TD x TH x TWL voxel positions times LC channel groups; each
// keeps a register block of RD x RH x RV output voxels times RC destination channels. The
// workgroup covers TDT x THT x TW voxels of one batch item and CT destination channels. Source
// channels are consumed in chunks of CH: the chunk's zero-padded input halo (and, with one
// channel group, its weight block) is staged in workgroup memory, then every invocation runs
// its register block over it. The generated parts (bindings, body, activation) come from
// src/kernels/direct_kernel.rs; the kernel id covers every template parameter.
//
// info: [n, src_c, dst_c, d, h, w, tiles_w, tiles_h, tiles_d, dst_blocks, total, chunk, nchunks]

{{ bindings }}
@group(0) @binding({{ info_binding }}) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ wg }}u;
const K: u32 = {{ k }}u;
const PAD: i32 = {{ pad }};
const TD: u32 = {{ td }}u;
const TH: u32 = {{ th }}u;
const TWL: u32 = {{ twl }}u;
const RD: u32 = {{ rd }}u;
const RH: u32 = {{ rh }}u;
const RV: u32 = {{ rv }}u;
const RC: u32 = {{ rc }}u;
const TDT: u32 = {{ tdt }}u;
const THT: u32 = {{ tht }}u;
const TW: u32 = {{ tw }}u;
const CT: u32 = {{ ct }}u;
const CH: u32 = {{ ch }}u;
const HH: u32 = {{ hh }}u;
const HW: u32 = {{ hw }}u;
const HALO: u32 = {{ halo }}u;
const HALO_P: u32 = {{ halo_p }}u;
const WS: u32 = {{ ws }}u;
const K3: u32 = K * K * K;

var<workgroup> halo: array<f32, {{ halo_len }}>;
var<workgroup> wsh: array<f32, {{ ws_len }}>;
var<workgroup> uniform_nchunks: u32;

fn act(v: f32) -> f32 {
    {{ act }}
}

fn grad_mask(y: f32) -> f32 {
    {{ mask }}
}

@compute @workgroup_size({{ wg }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) l: u32,
) {
    let src_c = info[1];
    let dst_c = info[2];
    let dd = info[3];
    let hh = info[4];
    let ww = info[5];
    let tiles_w = info[6];
    let tiles_h = info[7];
    let tiles_d = info[8];
    let dst_blocks = info[9];
    let total = info[10];
    let plane = hh * ww;
    let vol = dd * plane;

    // Linear workgroup id over a grid folded to stay under 65,535 per dimension; ids past
    // `total` recompute the last tile and store nothing (no early return: on CPU drivers it
    // would turn every later load into a lane-by-lane one).
    let linear = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
    let live = linear < total;
    var r = min(linear, total - 1u);
    let tx = r % tiles_w;
    r = r / tiles_w;
    let ty = r % tiles_h;
    r = r / tiles_h;
    let tz = r % tiles_d;
    r = r / tiles_d;
    let tb = r % dst_blocks;
    let n = r / dst_blocks;
    let x0 = tx * TW;
    let y0 = ty * THT;
    let z0 = tz * TDT;
    let t0 = tb * CT;

    // Lane position; with one voxel position per workgroup these fold to constants.
    let lx = l % TWL;
    let ly = (l / TWL) % TH;
    let lz = (l / (TWL * TH)) % TD;
    let lc = l / (TWL * TH * TD);
    let zo = z0 + lz * RD;
    let yo = y0 + ly * RH;
    let xb = x0 + lx * RV;
    let tl = t0 + lc * RC;
    // Lane's register block origin inside one channel of the halo.
    let lb = (lz * RD * HH + ly * RH) * HW + lx * RV;
    let src_base = n * src_c * vol;
    let dst_base = n * dst_c * vol;

{{ body }}
}
