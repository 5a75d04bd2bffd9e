// Tiled direct 3-D convolution, NCDHW f32, stride 1, same padding (forward and input gradient).
//
// A workgroup computes TD x TH x (TWL*RV) output voxels of one batch item for RC destination
// channels; invocation (lz, ly, lx) keeps RV voxels along W x RC channels in registers. Source
// channels are consumed in chunks of CH: the chunk's zero-padded input halo and its weight
// block are staged in workgroup memory, then every invocation runs its register block over
// them. The generated parts (bindings, body, activation) come from
// src/kernels/direct_kernel.rs; the kernel id covers every template parameter.
//
// info: [n, src_c, dst_c, d, h, w, tiles_w, tiles_h, tiles_d, dst_blocks, total, chunk, nchunks]

{{ bindings }}
@group(0) @binding({{ info_binding }}) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ wg }}u;
const K: u32 = {{ k }}u;
const PAD: i32 = {{ pad }};
const RV: u32 = {{ rv }}u;
const RC: u32 = {{ rc }}u;
const TD: u32 = {{ td }}u;
const TH: u32 = {{ th }}u;
const TWL: u32 = {{ twl }}u;
const TW: u32 = {{ tw }}u;
const CH: u32 = {{ ch }}u;
const HD: u32 = {{ hd }}u;
const HH: u32 = {{ hh }}u;
const HW: u32 = {{ hw }}u;
const HALO: u32 = {{ halo }}u;
const HALO_P: u32 = {{ halo_p }}u;
const WS: u32 = {{ ws }}u;
const WS_P: u32 = {{ ws_p }}u;
const K3: u32 = K * K * K;

var<workgroup> halo: array<f32, {{ halo_len }}>;
var<workgroup> wsh: array<f32, {{ ws_p }}>;
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
    // `total` recompute the last tile and store nothing (no early return: it would mask loads).
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
    let y0 = ty * TH;
    let z0 = tz * TD;
    let t0 = tb * RC;

    let lx = l % TWL;
    let ly = (l / TWL) % TH;
    let lz = l / (TWL * TH);
    let zo = z0 + lz;
    let yo = y0 + ly;
    let xb = x0 + lx * RV;
    // Lane's offset inside one channel of the halo.
    let lb = (lz * HH + ly) * HW + lx * RV;
    let src_base = n * src_c * vol;
    let dst_base = n * dst_c * vol;
    let zc = min(zo, dd - 1u);
    let yc = min(yo, hh - 1u);

{{ body }}
}
