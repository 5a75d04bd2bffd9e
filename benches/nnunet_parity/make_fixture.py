#!/usr/bin/env python3
"""Builds tests/data/nnunet-tiny: a real, tiny nnU-Net v2 model (two folds, trained on CPU by nnU-Net
itself), two test scans, and nnU-Net's own predictions for them. The Rust tests load the model folder and
compare unet3d's segmentation and probabilities with nnU-Net's. CI never runs this script (no Python
there); it is kept so the fixture can be rebuilt and audited.

    ~/.cache/unet3d-py/bin/python benches/nnunet_parity/make_fixture.py \
        [--out tests/data/nnunet-tiny] [--work /tmp/nnunet_fixture]

Run it with the interpreter of an environment that has nnunetv2 (plus torch, numpy, SimpleITK); the
nnUNetv2_* commands are taken from the same bin/ folder. It installs nothing.

Steps (each timed):
  1. seeded phantoms (numpy + SimpleITK): 8 training cases, 2 test scans
  2. nnUNetv2_plan_and_preprocess --no_pp (fingerprint + plans)
  3. plans edit: 3d_fullres features_per_stage -> FEATURES (nothing else; the planner's patch size,
     kernels, strides and spacing are kept and checked against the expected values)
  4. nnUNetv2_preprocess -c 3d_fullres
  5. nnUNetv2_train folds 0 and 1 with trainers/nnUNetTrainer_unet3dFixture.py (via nnUNet_extTrainer)
  6. copy the inference files of the model folder to OUT/model
  7. nnUNetv2_predict_from_modelfolder -m OUT/model -f 0 1 --save_probabilities (both scans), and
     -f 0 for the first scan
  8. npz -> npy, README.md with the plan, shapes, tiles, separate-z decisions, sizes and timings

Training is repeatable (same machine, same versions) with the default --n-proc-da 0: the trainer seeds
python/numpy/torch and nnU-Net then augments in the main process. With more augmentation workers the
weights differ run to run (nnU-Net's multi-process augmenter is unseeded).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TRAINERS = HERE / 'trainers'
TRAINER = 'nnUNetTrainer_unet3dFixture'
DATASET_ID = 990
DATASET = f'Dataset{DATASET_ID}_Unet3dTiny'
PLANS = 'nnUNetPlans'
CONFIG = '3d_fullres'
FOLDS = (0, 1)
# Much smaller than the planner's (32, 64, 128, 256) so that each checkpoint (weights + SGD momentum +
# pickled plans) stays about 250 KB. Not a doubling sequence on purpose (8 -> 8, then 12): nothing may
# assume features[s] == 2 * features[s-1].
FEATURES = [4, 8, 8, 12]
# What the planner must give for this data (checked, so a changed planner cannot silently change the
# fixture): 4 stages, an in-plane-only first stage.
EXPECT_PATCH = [16, 32, 32]
EXPECT_KERNELS = [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]]
EXPECT_STRIDES = [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]]
LABELS = {'background': 0, 'outer': 1, 'inner': 2}
N_TRAIN = 8
SEED = 20251206
MARKER = '.unet3d_nnunet_fixture_workdir'
# trainer knobs (read by trainers/nnUNetTrainer_unet3dFixture.py)
TRAIN_ENV = {'UNET3D_NNUNET_EPOCHS': '20', 'UNET3D_NNUNET_ITERS': '100', 'UNET3D_NNUNET_VAL_ITERS': '10',
             'UNET3D_NNUNET_SEED': '12345'}


# --------------------------------------------------------------------------------------------------
# phantoms
# --------------------------------------------------------------------------------------------------

def phantom(rng, shape, spacing, zero, radius_mm, centre_frac):
    """Sphere (label 1) with a core (label 2) on a noisy background. shape/spacing in (z, y, x).
    `zero` = voxel counts to blank (image and label) at (z_lo, z_hi, y_lo, y_hi, x_lo, x_hi), so that
    nnU-Net's crop-to-nonzero crops. Returns int16 image, uint8 labels."""
    zz, yy, xx = np.meshgrid(*[np.arange(s) for s in shape], indexing='ij')
    centre = [f * s * sp for f, s, sp in zip(centre_frac, shape, spacing)]
    d = np.sqrt((zz * spacing[0] - centre[0]) ** 2 + (yy * spacing[1] - centre[1]) ** 2
                + (xx * spacing[2] - centre[2]) ** 2)
    seg = np.zeros(shape, np.uint8)
    seg[d < radius_mm] = 1
    seg[d < 0.5 * radius_mm] = 2
    img = 100.0 + 20.0 * rng.standard_normal(shape)
    img[seg == 1] += 120.0
    img[seg == 2] += 240.0
    img = np.clip(np.round(img), 1, 32000)           # > 0 everywhere except the blanked slabs
    z0, z1, y0, y1, x0, x1 = zero
    for arr in (img, seg):
        arr[:z0] = 0
        arr[shape[0] - z1:] = 0
        arr[:, :y0] = 0
        arr[:, shape[1] - y1:] = 0
        arr[:, :, :x0] = 0
        arr[:, :, shape[2] - x1:] = 0
    return img.astype(np.int16), seg


def write_nifti(arr, spacing_zyx, path, origin_xyz=(0.0, 0.0, 0.0)):
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing([float(s) for s in spacing_zyx[::-1]])
    im.SetOrigin(origin_xyz)
    sitk.WriteImage(im, str(path), useCompression=True)


# The two test scans: (name, shape zyx, spacing zyx, zero slabs, radius mm, centre fraction, origin xyz)
TEST_CASES = [
    # ordinary: spacing differs from the target (3-D cubic resampling, no separate z: 2.5/0.9 < 3), zero
    # slabs on five faces so the crop bbox is non-trivial, smaller than the patch -> padding, one tile
    ('plain_000', (14, 34, 32), (2.5, 0.9, 0.95), (1, 1, 2, 0, 0, 3), 9.0, (0.5, 0.5, 0.45),
     (12.5, -7.0, 3.25)),
    # anisotropic (4.0/0.85 = 4.7 > 3 -> separate-z resampling in and out) and larger than the patch
    # in-plane -> 2 x 2 sliding-window tiles
    ('aniso_000', (12, 46, 44), (4.0, 0.85, 0.9), (1, 0, 3, 0, 0, 2), 10.0, (0.55, 0.45, 0.55),
     (0.0, 0.0, 0.0)),
]


def make_data(raw: Path, inputs: Path):
    rng = np.random.default_rng(SEED)
    for sub in ('imagesTr', 'labelsTr'):
        (raw / sub).mkdir(parents=True, exist_ok=True)
    inputs.mkdir(parents=True, exist_ok=True)
    for i in range(N_TRAIN):
        shape = (int(rng.integers(15, 18)), int(rng.integers(31, 35)), int(rng.integers(31, 35)))
        spacing = (float(rng.uniform(2.6, 3.0)), float(rng.uniform(0.95, 1.05)), float(rng.uniform(0.95, 1.05)))
        centre = tuple(float(rng.uniform(0.4, 0.6)) for _ in range(3))
        radius = float(rng.uniform(8.0, 11.0))
        img, seg = phantom(rng, shape, spacing, (1, 0, 2, 0, 0, 2), radius, centre)
        write_nifti(img, spacing, raw / 'imagesTr' / f'case_{i:03d}_0000.nii.gz')
        write_nifti(seg, spacing, raw / 'labelsTr' / f'case_{i:03d}.nii.gz')
    for name, shape, spacing, zero, radius, centre, origin in TEST_CASES:
        img, _ = phantom(rng, shape, spacing, zero, radius, centre)
        write_nifti(img, spacing, inputs / f'{name}_0000.nii.gz', origin)
    (raw / 'dataset.json').write_text(json.dumps({
        'channel_names': {'0': 'MRI'},          # not "CT" -> ZScoreNormalization
        'labels': LABELS,
        'numTraining': N_TRAIN,
        'file_ending': '.nii.gz',
        'name': DATASET,
        'description': 'unet3d nnU-Net parity fixture: seeded sphere phantoms (benches/nnunet_parity/make_fixture.py)',
    }, indent=2))


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def tool(name):
    p = Path(sys.executable).parent / name
    if p.exists():
        return str(p)
    w = shutil.which(name)
    if w is None:
        sys.exit(f'{name} not found next to {sys.executable} nor on PATH: run this script with the python '
                 f'of an environment that has nnunetv2 installed')
    return w


TIMINGS = []


def run(cmd, env, log: Path, what):
    print(f'[{what}] {" ".join(cmd)}', flush=True)
    t = time.time()
    with open(log, 'w') as f:
        r = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
    dt = time.time() - t
    TIMINGS.append((what, dt))
    print(f'[{what}] {dt:.1f} s (log {log})', flush=True)
    if r.returncode != 0:
        print(open(log).read()[-4000:])
        sys.exit(f'{what} failed with exit code {r.returncode}')
    return dt


def fmt_size(n):
    return f'{n:,} B ({n / 1024:.1f} KiB)'


def case_facts(model_dir: Path, image: Path):
    """What nnU-Net's own code does with this scan: crop, resampled shape, tiles, separate-z."""
    from nnunetv2.inference.sliding_window_prediction import compute_steps_for_sliding_window
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
    from nnunetv2.preprocessing.resampling.default_resampling import determine_do_sep_z_and_axis
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
    plans = json.loads((model_dir / 'plans.json').read_text())
    dataset_json = json.loads((model_dir / 'dataset.json').read_text())
    pm = PlansManager(plans)
    cm = pm.get_configuration(CONFIG)
    data, _, props = DefaultPreprocessor(verbose=False).run_case([str(image)], None, pm, cm, dataset_json)
    patch = list(cm.patch_size)
    pre = list(data.shape[1:])
    padded = [max(p, s) for p, s in zip(patch, pre)]
    steps = compute_steps_for_sliding_window(padded, patch, 0.5)
    orig_sp = [props['spacing'][i] for i in plans['transpose_forward']]
    sep_in = determine_do_sep_z_and_axis(None, orig_sp, cm.spacing)
    sep_out = determine_do_sep_z_and_axis(None, cm.spacing, orig_sp)
    return {
        'shape': list(props['shape_before_cropping']),
        'spacing': [round(float(s), 6) for s in props['spacing']],
        'bbox': [list(map(int, b)) for b in props['bbox_used_for_cropping']],
        'cropped': list(props['shape_after_cropping_and_before_resampling']),
        'resampled': pre,
        'padded': padded,
        'steps': [list(map(int, s)) for s in steps],
        'tiles': int(np.prod([len(s) for s in steps])),
        'sep_z_in': [bool(sep_in[0]), None if sep_in[1] is None else int(sep_in[1])],
        'sep_z_out': [bool(sep_out[0]), None if sep_out[1] is None else int(sep_out[1])],
    }


def versions():
    from importlib.metadata import version
    out = {}
    for p in ('nnunetv2', 'torch', 'dynamic_network_architectures', 'numpy', 'scipy', 'scikit-image',
              'SimpleITK', 'acvl_utils', 'batchgenerators', 'batchgeneratorsv2'):
        try:
            out[p] = version(p)
        except Exception:
            out[p] = '?'
    out['python'] = sys.version.split()[0]
    return out


def safe_reset(path: Path, marker: bool):
    """Empties `path` if it is ours (marker file) or absent; refuses otherwise."""
    if path.exists():
        if marker and not (path / MARKER).exists():
            sys.exit(f'{path} exists and was not made by this script ({MARKER} missing): choose another --work')
        shutil.rmtree(path)
    path.mkdir(parents=True)
    if marker:
        (path / MARKER).write_text('work folder of benches/nnunet_parity/make_fixture.py\n')


# --------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', type=Path, default=REPO / 'tests' / 'data' / 'nnunet-tiny',
                    help='fixture folder (model/, input/, expected/ and README.md inside it are replaced)')
    ap.add_argument('--work', type=Path, default=Path('/tmp/nnunet_fixture'),
                    help='scratch folder for nnUNet_raw/preprocessed/results (emptied first)')
    ap.add_argument('--n-proc-da', type=int, default=0,
                    help='nnUNet_n_proc_DA for training (0 = augmentation in the main process: repeatable)')
    ap.add_argument('--threads', type=int, default=1,
                    help='torch threads for training and prediction (nnUNet_def_n_proc, UNET3D_NNUNET_THREADS)')
    ap.add_argument('--prob-dtype', choices=['float16', 'float32'], default='float16',
                    help='dtype of the expected probability .npy files (nnU-Net writes float32 in its npz)')
    ap.add_argument('--stop-after', choices=['data', 'plan', 'train'], default=None,
                    help='for experiments: stop after this step')
    args = ap.parse_args()
    out = args.out.resolve()
    work = args.work.resolve()
    t_all = time.time()

    safe_reset(work, marker=True)
    raw, pre, res = work / 'nnUNet_raw', work / 'nnUNet_preprocessed', work / 'nnUNet_results'
    logs = work / 'logs'
    for d in (raw, pre, res, logs):
        d.mkdir()
    env = dict(os.environ)
    env.update({
        'nnUNet_raw': str(raw), 'nnUNet_preprocessed': str(pre), 'nnUNet_results': str(res),
        # nnUNet_n_proc_DA=0 breaks the planner (torch.set_num_threads(0)): set to --n-proc-da for training only
        'nnUNet_compile': 'f', 'nnUNet_n_proc_DA': '1',
        'nnUNet_def_n_proc': str(args.threads), 'OMP_NUM_THREADS': str(args.threads),
        'MKL_NUM_THREADS': str(args.threads),
        'nnUNet_extTrainer': str(TRAINERS), 'UNET3D_NNUNET_THREADS': str(args.threads),
        'PYTHONHASHSEED': '0', **TRAIN_ENV,
    })
    os.environ.update({k: env[k] for k in ('nnUNet_raw', 'nnUNet_preprocessed', 'nnUNet_results')})

    # 1. data
    t = time.time()
    inputs = work / 'input'
    make_data(raw / DATASET, inputs)
    TIMINGS.append(('phantoms', time.time() - t))
    print(f'[phantoms] {TIMINGS[-1][1]:.1f} s')
    if args.stop_after == 'data':
        return

    # 2. fingerprint + plans
    run([tool('nnUNetv2_plan_and_preprocess'), '-d', str(DATASET_ID), '--verify_dataset_integrity',
         '--no_pp', '-npfp', '1'], env, logs / 'plan.log', 'plan')

    # 3. shrink the network (only features_per_stage) and check the planner's topology
    plans_file = pre / DATASET / f'{PLANS}.json'
    plans = json.loads(plans_file.read_text())
    cfg = plans['configurations'][CONFIG]
    ak = cfg['architecture']['arch_kwargs']
    planned = {'patch_size': cfg['patch_size'], 'kernel_sizes': ak['kernel_sizes'], 'strides': ak['strides'],
               'features_per_stage': ak['features_per_stage'], 'spacing': cfg['spacing']}
    print('[plan] planner gave', json.dumps(planned))
    problems = []
    if cfg['patch_size'] != EXPECT_PATCH:
        problems.append(f'patch {cfg["patch_size"]} != {EXPECT_PATCH}')
    if ak['kernel_sizes'] != EXPECT_KERNELS:
        problems.append(f'kernels {ak["kernel_sizes"]} != {EXPECT_KERNELS}')
    if ak['strides'] != EXPECT_STRIDES:
        problems.append(f'strides {ak["strides"]} != {EXPECT_STRIDES}')
    if cfg['normalization_schemes'] != ['ZScoreNormalization'] or cfg['use_mask_for_norm'] != [False]:
        problems.append(f'normalization {cfg["normalization_schemes"]} mask {cfg["use_mask_for_norm"]}')
    if problems:
        sys.exit('the planner did not give the expected 3d_fullres topology: ' + '; '.join(problems))
    ak['features_per_stage'] = FEATURES
    plans_file.write_text(json.dumps(plans, indent=4, sort_keys=False))
    if args.stop_after == 'plan':
        return

    # 4. preprocess 3d_fullres only
    run([tool('nnUNetv2_preprocess'), '-d', str(DATASET_ID), '-c', CONFIG, '-np', '1'],
        env, logs / 'preprocess.log', 'preprocess')

    # 5. train
    env_train = dict(env, nnUNet_n_proc_DA=str(args.n_proc_da))
    for fold in FOLDS:
        run([tool('nnUNetv2_train'), str(DATASET_ID), CONFIG, str(fold), '-tr', TRAINER, '-device', 'cpu'],
            env_train, logs / f'train_fold{fold}.log', f'train fold {fold}')
    if args.stop_after == 'train':
        return

    # 6. the model folder, inference files only
    trained = res / DATASET / f'{TRAINER}__{PLANS}__{CONFIG}'
    for sub in ('model', 'input', 'expected'):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    model = out / 'model'
    model.mkdir(parents=True)
    for f in ('plans.json', 'dataset.json', 'dataset_fingerprint.json'):
        shutil.copy2(trained / f, model / f)
    for fold in FOLDS:
        (model / f'fold_{fold}').mkdir()
        shutil.copy2(trained / f'fold_{fold}' / 'checkpoint_final.pth', model / f'fold_{fold}' / 'checkpoint_final.pth')
    shutil.copytree(inputs, out / 'input', ignore=shutil.ignore_patterns(MARKER))

    # 7. nnU-Net's predictions, from the copied model folder
    pred_ens, pred_f0, in_f0 = work / 'pred_f01', work / 'pred_f0', work / 'input_f0'
    in_f0.mkdir()
    first = TEST_CASES[0][0]
    shutil.copy2(inputs / f'{first}_0000.nii.gz', in_f0)
    predict = tool('nnUNetv2_predict_from_modelfolder')
    common = ['-device', 'cpu', '--save_probabilities', '--disable_progress_bar', '-npp', '1', '-nps', '1']
    t_ens = run([predict, '-i', str(inputs), '-o', str(pred_ens), '-m', str(model), '-f', '0', '1', *common],
                env, logs / 'predict_f01.log', 'predict folds 0 1 (2 scans)')
    t_f0 = run([predict, '-i', str(in_f0), '-o', str(pred_f0), '-m', str(model), '-f', '0', *common],
               env, logs / 'predict_f0.log', f'predict fold 0 ({first})')

    # 8. expected/ (npz -> npy)
    exp = out / 'expected'
    exp.mkdir()
    checks = []

    def take(src_dir, case, suffix):
        seg_img = sitk.ReadImage(str(src_dir / f'{case}.nii.gz'))
        seg = sitk.GetArrayFromImage(seg_img)
        probs = np.load(src_dir / f'{case}.npz')['probabilities']
        assert probs.dtype == np.float32 and probs.shape == (len(LABELS), *seg.shape), (probs.dtype, probs.shape)
        assert np.isfinite(probs).all()
        same = int((probs.argmax(0) == seg).sum())
        checks.append(f'{case}{suffix}: argmax(probabilities) == segmentation on {same}/{seg.size} voxels; '
                      f'label voxels {np.bincount(seg.ravel(), minlength=len(LABELS)).tolist()}')
        shutil.copy2(src_dir / f'{case}.nii.gz', exp / f'{case}{suffix}.nii.gz')
        np.save(exp / f'{case}{suffix}_probabilities.npy', probs.astype(args.prob_dtype))
        return seg

    segs = {}
    for name, *_ in TEST_CASES:
        segs[name] = take(pred_ens, name, '')
    seg_f0 = take(pred_f0, first, '_fold0')
    diff_f0 = int((seg_f0 != segs[first]).sum())
    checks.append(f'{first}: fold-0 segmentation differs from the 2-fold ensemble on {diff_f0} voxels')
    for c in checks:
        print('[check]', c)

    # README
    facts = {name: case_facts(model, out / 'input' / f'{name}_0000.nii.gz') for name, *_ in TEST_CASES}
    write_readme(out, plans, planned, facts, checks, args, time.time() - t_all, t_ens, t_f0)
    total = sum(p.stat().st_size for p in out.rglob('*') if p.is_file())
    print(f'[done] {out}: {fmt_size(total)} in total; {time.time() - t_all:.0f} s')
    for what, dt in TIMINGS:
        print(f'    {what:40s} {dt:7.1f} s')


def write_readme(out: Path, plans, planned, facts, checks, args, t_total, t_ens, t_f0):
    cfg = plans['configurations'][CONFIG]
    ak = cfg['architecture']['arch_kwargs']
    ver = versions()
    files = sorted(p for p in out.rglob('*') if p.is_file() and p.name != 'README.md')
    L = []
    w = L.append
    w('# nnunet-tiny: a real nnU-Net v2 model and nnU-Net\'s own predictions')
    w('')
    w('Made by `benches/nnunet_parity/make_fixture.py` (do not edit by hand; rebuild with the script). A tiny '
      f'`{CONFIG}` model trained for real by nnU-Net on CPU (two folds, so fold ensembling is covered), two test '
      'scans, and what `nnUNetv2_predict_from_modelfolder` makes of them. The Rust tests compare unet3d\'s '
      '`predict` (nnU-Net model folder and the `import nnunet` route) with these files.')
    w('')
    w('## Files')
    w('')
    w('| file | bytes | what |')
    w('|---|---:|---|')
    desc = {
        'model/plans.json': 'nnU-Net plans as used for training (planner output, `features_per_stage` edited)',
        'model/dataset.json': 'dataset.json (copied by nnU-Net into the model folder)',
        'model/dataset_fingerprint.json': 'dataset fingerprint (not read by the predictor)',
        'model/fold_0/checkpoint_final.pth': 'fold 0 final checkpoint, exactly as nnUNetv2_train wrote it (weights, SGD state, init_args, ...)',
        'model/fold_1/checkpoint_final.pth': 'fold 1 final checkpoint',
    }
    for name, *_ in TEST_CASES:
        desc[f'input/{name}_0000.nii.gz'] = 'test scan (int16, channel 0000)'
        desc[f'expected/{name}.nii.gz'] = 'nnU-Net segmentation, folds 0+1 ensembled (uint8, input geometry)'
        desc[f'expected/{name}_probabilities.npy'] = f'nnU-Net softmax probabilities, folds 0+1, {args.prob_dtype}, (classes, Z, Y, X)'
        desc[f'expected/{name}_fold0.nii.gz'] = 'nnU-Net segmentation, fold 0 only'
        desc[f'expected/{name}_fold0_probabilities.npy'] = f'nnU-Net softmax probabilities, fold 0 only, {args.prob_dtype}'
    total = 0
    for p in files:
        rel = p.relative_to(out).as_posix()
        n = p.stat().st_size
        total += n
        w(f'| `{rel}` | {n:,} | {desc.get(rel, "")} |')
    w(f'| **total** (without this README) | **{total:,}** | |')
    w('')
    w('The folder is a trimmed copy of `nnUNet_results/' + f'{DATASET}/{TRAINER}__{PLANS}__{CONFIG}`: '
      '`checkpoint_best.pth`, logs, `progress.png`, `debug.json` and `validation/` are left out (the predictor '
      'reads only plans.json, dataset.json and `fold_K/checkpoint_final.pth`). The checkpoints name the trainer '
      f'class `{TRAINER}`; to run nnU-Net on this folder set `nnUNet_extTrainer=benches/nnunet_parity/trainers`.')
    w('')
    w('Probabilities: nnU-Net writes `<case>.npz` (key `probabilities`, float32, shape (classes, Z, Y, X) in '
      'SimpleITK array order, i.e. NIfTI (i,j,k) -> [k,j,i], background = 1 outside the crop box). Here they are '
      f'stored as plain `.npy`, cast to **{args.prob_dtype}**' +
      (' to save space: compare with a tolerance of about 1e-3 (float16 spacing is 2^-11 near 1).'
       if args.prob_dtype == 'float16' else '.'))
    w('')
    w('## Plan (`model/plans.json`, configuration `3d_fullres`)')
    w('')
    w(f'- patch size {cfg["patch_size"]}, target spacing {[round(s, 6) for s in cfg["spacing"]]} (z, y, x), '
      f'batch size {cfg["batch_size"]}')
    w(f'- PlainConvUNet, {ak["n_stages"]} stages, features_per_stage {ak["features_per_stage"]} '
      f'(the planner gave {planned["features_per_stage"]}; only this field was edited), kernel_sizes {ak["kernel_sizes"]}, strides {ak["strides"]}, '
      f'n_conv_per_stage {ak["n_conv_per_stage"]}, n_conv_per_stage_decoder {ak["n_conv_per_stage_decoder"]}')
    w(f'- normalization {cfg["normalization_schemes"]}, use_mask_for_norm {cfg["use_mask_for_norm"]}, '
      f'resampling data {cfg["resampling_fn_data_kwargs"]}, probabilities {cfg["resampling_fn_probabilities_kwargs"]}')
    w(f'- transpose_forward {plans["transpose_forward"]}, image_reader_writer {plans["image_reader_writer"]}')
    w(f'- labels {LABELS} (3 output channels, softmax), one input channel ("MRI")')
    w('')
    w('## Test scans and what nnU-Net does with them')
    w('')
    w('Computed with nnU-Net\'s own DefaultPreprocessor, compute_steps_for_sliding_window and '
      'determine_do_sep_z_and_axis. Shapes and spacings are (z, y, x) = SimpleITK array order; a NIfTI header '
      'lists them reversed. Tile step 0.5; TTA mirrors all 3 axes (8 passes per tile).')
    w('')
    w('| case | shape | spacing | crop bbox | cropped | resampled | tile steps (z; y; x) | tiles | separate z (in / out) |')
    w('|---|---|---|---|---|---|---|---:|---|')
    for name, f in facts.items():
        steps = '; '.join(','.join(map(str, s)) for s in f['steps'])
        sep = lambda s: f'yes (axis {s[1]})' if s[0] else 'no'
        w(f'| {name} | {f["shape"]} | {f["spacing"]} | {f["bbox"]} | {f["cropped"]} | {f["resampled"]} '
          f'(padded {f["padded"]}) | {steps} | {f["tiles"]} | {sep(f["sep_z_in"])} / {sep(f["sep_z_out"])} |')
    w('')
    w('Checks done when the files were written:')
    w('')
    for c in checks:
        w(f'- {c}')
    w('')
    w('## How it was made')
    w('')
    w('```bash')
    w('~/.cache/unet3d-py/bin/python benches/nnunet_parity/make_fixture.py --out tests/data/nnunet-tiny '
      f'--work /tmp/nnunet_fixture --threads {args.threads} --n-proc-da {args.n_proc_da} --prob-dtype {args.prob_dtype}')
    w('```')
    w('')
    w('which runs (nnUNet_raw/preprocessed/results under the work folder; nnUNet_compile=f, '
      f'nnUNet_n_proc_DA={args.n_proc_da}, nnUNet_def_n_proc={args.threads}, '
      'nnUNet_extTrainer=benches/nnunet_parity/trainers, ' + ', '.join(f'{k}={v}' for k, v in TRAIN_ENV.items())
      + '):')
    w('')
    w('```bash')
    w(f'# phantoms: numpy default_rng({SEED}); {N_TRAIN} training cases, shapes 15-17 x 31-34 x 31-34, spacing '
      'z 2.6-3.0, y/x 0.95-1.05 mm; sphere label 1 with core label 2; int16')
    w(f'nnUNetv2_plan_and_preprocess -d {DATASET_ID} --verify_dataset_integrity --no_pp -npfp 1')
    w(f'# edit nnUNet_preprocessed/{DATASET}/{PLANS}.json: configurations.{CONFIG}.architecture.arch_kwargs.'
      f'features_per_stage = {FEATURES}')
    w(f'nnUNetv2_preprocess -d {DATASET_ID} -c {CONFIG} -np 1')
    for fold in FOLDS:
        w(f'nnUNetv2_train {DATASET_ID} {CONFIG} {fold} -tr {TRAINER} -device cpu')
    w('# copy plans.json, dataset.json, dataset_fingerprint.json, fold_{0,1}/checkpoint_final.pth to model/')
    w('nnUNetv2_predict_from_modelfolder -i input -o pred_f01 -m model -f 0 1 -device cpu --save_probabilities '
      '-npp 1 -nps 1')
    w(f'nnUNetv2_predict_from_modelfolder -i input_f0 -o pred_f0 -m model -f 0 -device cpu --save_probabilities '
      f'-npp 1 -nps 1   # {TEST_CASES[0][0]} only')
    w('# expected/<case>.nii.gz = pred/<case>.nii.gz; expected/<case>_probabilities.npy = '
      f'np.load(pred/<case>.npz)["probabilities"].astype({args.prob_dtype})')
    w('```')
    w('')
    w('Defaults of the prediction: step size 0.5, Gaussian weighting, mirroring TTA on, checkpoint_final.pth, CPU '
      '(float32 network, no autocast; logits accumulated in float16, as nnU-Net does on every device). With several '
      'folds nnU-Net averages the folds\' **logits** (sum of the per-fold sliding-window float16 logits divided by the '
      'number of folds, `nnUNetPredictor.predict_logits_from_preprocessed_data`), then resamples and applies softmax.')
    w('')
    w('Timings of the run that wrote these files (2-core machine shared with a compiler, '
      f'{args.threads} torch thread(s)):')
    w('')
    for what, dt in TIMINGS:
        w(f'- {what}: {dt:.1f} s')
    w(f'- whole script: {t_total:.0f} s')
    w('')
    w('The prediction times include starting Python and loading torch/nnU-Net (several seconds of each).')
    w('')
    w('Versions: ' + ', '.join(f'{k} {v}' for k, v in ver.items()) + '.')
    w('')
    w('Training is repeatable on one machine (seeded trainer, augmentation in the main process), but the weights '
      'depend on the torch version and CPU, so a rebuilt fixture has other weights and other expected outputs: '
      'regenerate all of it together, never parts.')
    w('')
    w('sha256:')
    w('')
    w('```')
    for p in files:
        w(f'{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}')
    w('```')
    (out / 'README.md').write_text('\n'.join(L) + '\n')


if __name__ == '__main__':
    main()
