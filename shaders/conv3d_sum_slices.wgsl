// Sums the per-slice partial weight gradients: out[i] = sum over s of part[s * len + i].
// info: [len, slices, total_groups]

@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) l: u32,
) {
    let len = info[0];
    let slices = info[1];
    let i = (wid.x + nwg.x * (wid.y + nwg.y * wid.z)) * 64u + l;
    var acc = 0.0;
    for (var s = 0u; s < slices; s = s + 1u) {
        acc = acc + part[s * len + min(i, len - 1u)];
    }
    if (i < len) {
        out[i] = acc;
    }
}
