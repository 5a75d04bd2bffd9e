#!/usr/bin/env python3
"""nnU-Net v2 parity check for unet3d: the same nnU-Net model, the same scans, nnU-Net's predictions next to
unet3d's. Optional peer tool (like benches/pytorch_peer.py); unet3d never calls it and CI does not run it.

Needs the python of an environment with nnunetv2 (it brings torch, numpy, SimpleITK; nothing else is used
and nothing is installed) and a built unet3d:

    cargo build --release
    ~/.cache/unet3d-py/bin/python benches/nnunet_parity/parity.py [--unet3d target/release/unet3d] \
        [--devices flex wgpu wgpu-cpu] [--folds 0 1] [--work /tmp/unet3d_nnunet_parity]

What it does (nnUNet_raw/preprocessed/results live under --work):
  1. data: `unet3d synth --out W/synth --cases N --seed S [--matrix M]` (unet3d's dataset layout:
     dataset.json with splits, imagesTr/<case>.nii.gz, labelsTr/, imagesTs/), converted to an nnU-Net raw
     dataset (train + validation -> imagesTr/<case>_0000.nii.gz + labelsTr, test -> imagesTs). Files are
     copied byte for byte, so both tools read identical scans.
  2. nnU-Net: nnUNetv2_plan_and_preprocess (optionally shrinking features_per_stage with --features),
     nnUNetv2_train 3d_fullres for each --folds with --trainer on --nnunet-device (default cpu).
     Default trainer: trainers/nnUNetTrainer_unet3dFixture.py (found via nnUNet_extTrainer; --epochs,
     --iters set its length). A shipped trainer works too, e.g. --trainer nnUNetTrainer_5epochs
     (then --epochs/--iters do nothing).
  3. nnU-Net prediction of every test case, one command per case so its wall time is per case:
     nnUNetv2_predict_from_modelfolder -i <one case> -o ... -m MODEL -f FOLDS -device cpu --save_probabilities
     (defaults otherwise: mirroring TTA, step 0.5, checkpoint_final.pth).
  4. unet3d, for each --devices, by two routes:
       model folder: unet3d predict --model MODEL --input CASE_0000.nii.gz --output OUT.nii.gz
                     --folds F.. --probabilities OUT.npy --device DEV --postprocess none
       import:       unet3d import nnunet MODEL --out RUN   (once)
                     unet3d predict --model RUN ...same flags...
     (--probabilities writes float32 (classes, Z, Y, X) in the layout of nnU-Net's npz.)
  5. A table per case x device x route: Dice per foreground class between the two segmentations, the
     number of differing voxels, max |p_nnunet - p_unet3d| over the softmax probabilities, whether the output
     geometry matches, and the wall time of each tool's command on this machine. Written to W/parity.json too.
     Exit status 1 if any Dice < --min-dice (default 0.99) or a command failed.

Shortcuts:
  --reuse                 keep W's data and trained model if they are there (re-check a new unet3d build)
  --model DIR --images DIR  skip 1-2: an existing nnU-Net model folder and a folder of <case>_0000.nii.gz
  --expected DIR          skip 3 too: nnU-Net outputs already made (<case>.nii.gz and either <case>.npz or
                          <case>_probabilities.npy), e.g. the checked-in fixture:
      parity.py --model tests/data/nnunet-tiny/model --images tests/data/nnunet-tiny/input \
                --expected tests/data/nnunet-tiny/expected --folds 0 1
  (The fixture's trainer class is found through nnUNet_extTrainer, which this script sets to trainers/.)

Threads: --threads N sets OMP_NUM_THREADS and nnUNet_def_n_proc for nnU-Net (its CPU predictor uses
min(nnUNet_def_n_proc, cores) torch threads) and RAYON_NUM_THREADS for unet3d, so both use N threads.
The default is every core. Wall times include each tool's start-up (for nnU-Net: Python, torch, nnU-Net
imports, several seconds).
"""
import argparse
import json
import os
import shlex
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
CONFIG = '3d_fullres'
PLANS = 'nnUNetPlans'


def log(*a):
    print(*a, flush=True)


def tool(name):
    p = Path(sys.executable).parent / name
    if p.exists():
        return str(p)
    w = shutil.which(name)
    if w is None:
        sys.exit(f'{name} not found next to {sys.executable} nor on PATH: run this script with the python of an '
                 f'environment that has nnunetv2 installed')
    return w


def run(cmd, env, logfile: Path, check=True):
    """Runs cmd, output to logfile; returns (ok, seconds)."""
    log('  $', ' '.join(shlex.quote(str(c)) for c in cmd))
    logfile.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(logfile, 'w') as f:
        r = subprocess.run([str(c) for c in cmd], env=env, stdout=f, stderr=subprocess.STDOUT)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        tail = logfile.read_text(errors='replace')[-3000:]
        log(f'  -> exit code {r.returncode} after {dt:.1f} s; last lines of {logfile}:\n{tail}')
        if check:
            sys.exit(1)
    return r.returncode == 0, dt


# --------------------------------------------------------------------------------------------------
# data and training
# --------------------------------------------------------------------------------------------------

def synth_to_nnunet(synth: Path, raw: Path, images_ts: Path):
    """unet3d dataset layout -> nnU-Net raw dataset. Returns the test case ids."""
    spec = json.loads((synth / 'dataset.json').read_text())
    ending = spec.get('file_ending', '.nii.gz')
    splits = spec['splits']
    labels = {int(k): v for k, v in spec['labels'].items()}
    if sorted(labels) != list(range(len(labels))):
        sys.exit(f'labels {labels} are not consecutive 0..N-1, which nnU-Net requires')
    for sub in ('imagesTr', 'labelsTr'):
        (raw / sub).mkdir(parents=True, exist_ok=True)
    images_ts.mkdir(parents=True, exist_ok=True)
    train = list(splits['train']) + list(splits.get('validation', []))
    for case in train:
        lab = sitk.GetArrayFromImage(sitk.ReadImage(str(synth / 'labelsTr' / f'{case}{ending}')))
        bad = sorted(set(np.unique(lab).tolist()) - set(labels))
        if bad:
            sys.exit(f'{case}: label values {bad} not in dataset.json (an ignore value is not supported here)')
        shutil.copy2(synth / 'imagesTr' / f'{case}{ending}', raw / 'imagesTr' / f'{case}_0000{ending}')
        shutil.copy2(synth / 'labelsTr' / f'{case}{ending}', raw / 'labelsTr' / f'{case}{ending}')
    for case in splits['test']:
        shutil.copy2(synth / 'imagesTs' / f'{case}{ending}', images_ts / f'{case}_0000{ending}')
    modality = spec.get('modality', {'0': 'MRI'})
    (raw / 'dataset.json').write_text(json.dumps({
        'channel_names': {k: v for k, v in sorted(modality.items())},
        'labels': {labels[i].replace(' ', '_'): i for i in sorted(labels)},
        'numTraining': len(train),
        'file_ending': ending,
        'name': raw.name,
        'description': f'converted from unet3d synth ({spec.get("description", "")})',
    }, indent=2))
    return list(splits['test'])


def prepare_model(a, env, work: Path):
    """Steps 1-2. Returns (model_dir, images_dir)."""
    raw_root, pre_root, res_root = work / 'nnUNet_raw', work / 'nnUNet_preprocessed', work / 'nnUNet_results'
    dataset = f'Dataset{a.dataset_id:03d}_Unet3dParity'
    model = res_root / dataset / f'{a.trainer}__{PLANS}__{CONFIG}'
    images = work / 'imagesTs'
    if a.reuse and all((model / f'fold_{f}' / 'checkpoint_final.pth').exists() for f in a.folds) \
            and any(images.glob('*_0000.nii.gz')):
        log(f'[reuse] model {model}')
        return model, images
    for d in (work / 'synth', raw_root, pre_root, res_root, images):
        if d.exists():
            shutil.rmtree(d)
    for d in (raw_root, pre_root, res_root):
        d.mkdir(parents=True)

    log('[1] phantoms with unet3d synth')
    cmd = [a.unet3d, 'synth', '--out', work / 'synth', '--cases', str(a.cases), '--seed', str(a.seed)]
    if a.matrix:
        cmd += ['--matrix', str(a.matrix)]
    run(cmd, env, work / 'logs' / 'synth.log')
    tests = synth_to_nnunet(work / 'synth', raw_root / dataset, images)
    log(f'    test cases: {tests}')

    log('[2] nnU-Net plan, preprocess, train')
    run([tool('nnUNetv2_plan_and_preprocess'), '-d', str(a.dataset_id), '--verify_dataset_integrity', '--no_pp',
         '-npfp', '1'], env, work / 'logs' / 'plan.log')
    plans_file = pre_root / dataset / f'{PLANS}.json'
    plans = json.loads(plans_file.read_text())
    ak = plans['configurations'][CONFIG]['architecture']['arch_kwargs']
    if a.features != 'planner':
        if a.features == 'auto':
            feats = [max(2, int(f) // 8) for f in ak['features_per_stage']]
        else:
            feats = [int(x) for x in a.features.split(',')]
        if len(feats) != ak['n_stages']:
            sys.exit(f'--features needs {ak["n_stages"]} numbers (the planner made {ak["n_stages"]} stages)')
        ak['features_per_stage'] = feats
        plans_file.write_text(json.dumps(plans, indent=4))
    c = plans['configurations'][CONFIG]
    log(f'    plan: patch {c["patch_size"]}, spacing {[round(s, 4) for s in c["spacing"]]}, '
        f'features {ak["features_per_stage"]}, kernels {ak["kernel_sizes"]}, strides {ak["strides"]}')
    run([tool('nnUNetv2_preprocess'), '-d', str(a.dataset_id), '-c', CONFIG, '-np', '1'], env,
        work / 'logs' / 'preprocess.log')
    env_train = dict(env, nnUNet_n_proc_DA=str(a.n_proc_da), UNET3D_NNUNET_EPOCHS=str(a.epochs),
                     UNET3D_NNUNET_ITERS=str(a.iters))
    for f in a.folds:
        ok, dt = run([tool('nnUNetv2_train'), str(a.dataset_id), CONFIG, str(f), '-tr', a.trainer,
                      '-device', a.nnunet_device], env_train, work / 'logs' / f'train_fold{f}.log')
        log(f'    fold {f} trained in {dt:.0f} s')
    return model, images


# --------------------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------------------

def read_seg(path: Path):
    img = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(img), (img.GetSpacing(), img.GetOrigin(), img.GetDirection(), img.GetSize())


def read_probs(stem: Path):
    """nnU-Net probabilities: <stem>.npz (key probabilities) or <stem>_probabilities.npy."""
    npz = stem.with_name(stem.name + '.npz')
    if npz.exists():
        return np.load(npz)['probabilities'].astype(np.float32)
    npy = stem.with_name(stem.name + '_probabilities.npy')
    if npy.exists():
        return np.load(npy).astype(np.float32)
    return None


def same_geometry(g1, g2):
    sp1, o1, d1, s1 = g1
    sp2, o2, d2, s2 = g2
    return (s1 == s2 and np.allclose(sp1, sp2, rtol=1e-5, atol=1e-6) and np.allclose(o1, o2, atol=1e-4)
            and np.allclose(d1, d2, atol=1e-5))


def compare(ref_seg, ref_geom, ref_probs, out_seg: Path, out_probs: Path, n_classes):
    r = {'dice': [None] * (n_classes - 1), 'diff_voxels': None, 'max_abs_prob': None, 'geometry': None,
         'error': None}
    if not out_seg.exists():
        r['error'] = 'no segmentation written'
        return r
    seg, geom = read_seg(out_seg)
    r['geometry'] = same_geometry(ref_geom, geom)
    if seg.shape != ref_seg.shape:
        r['error'] = f'segmentation shape {seg.shape} != nnU-Net {ref_seg.shape}'
        return r
    r['diff_voxels'] = int((seg != ref_seg).sum())
    for c in range(1, n_classes):
        a, b = ref_seg == c, seg == c
        denom = int(a.sum()) + int(b.sum())
        r['dice'][c - 1] = 1.0 if denom == 0 else 2.0 * int((a & b).sum()) / denom
    if ref_probs is not None:
        if not out_probs.exists():
            r['error'] = 'no probabilities written'
        else:
            p = np.load(out_probs)
            if p.shape != ref_probs.shape:
                r['error'] = f'probabilities shape {p.shape} != nnU-Net {ref_probs.shape}'
            else:
                r['max_abs_prob'] = float(np.abs(p.astype(np.float32) - ref_probs).max())
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument('--unet3d', default=str(REPO / 'target' / 'release' / 'unet3d'), help='unet3d binary')
    ap.add_argument('--work', type=Path, default=Path('/tmp/unet3d_nnunet_parity'), help='scratch folder')
    ap.add_argument('--devices', nargs='+', default=['flex'], choices=['flex', 'wgpu', 'wgpu-cpu', 'auto'],
                    help='unet3d --device values to check (default flex)')
    ap.add_argument('--folds', nargs='+', type=int, default=[0], help='folds to train and ensemble (default 0)')
    ap.add_argument('--routes', nargs='+', default=['model', 'import'], choices=['model', 'import'],
                    help='unet3d routes: the nnU-Net model folder directly, and/or `import nnunet` first')
    ap.add_argument('--threads', type=int, default=os.cpu_count(), help='threads for both tools (default: all)')
    ap.add_argument('--min-dice', type=float, default=0.99, help='fail below this Dice (default 0.99)')
    # data / training
    ap.add_argument('--cases', type=int, default=10, help='unet3d synth --cases (default 10: 8 train, 2 test)')
    ap.add_argument('--seed', type=int, default=2013, help='unet3d synth --seed')
    ap.add_argument('--matrix', type=int, default=48, help='unet3d synth --matrix (in-plane size; default 48)')
    ap.add_argument('--dataset-id', type=int, default=991, help='nnU-Net dataset id (default 991)')
    ap.add_argument('--trainer', default='nnUNetTrainer_unet3dFixture',
                    help='nnU-Net trainer class (default: the short CPU trainer in trainers/)')
    ap.add_argument('--epochs', type=int, default=10, help='epochs of nnUNetTrainer_unet3dFixture (default 10)')
    ap.add_argument('--iters', type=int, default=50, help='iterations per epoch of it (default 50)')
    ap.add_argument('--features', default='auto',
                    help='features_per_stage for the plan: "auto" (default, for speed) divides the planner\'s '
                         'by 8 (32, 64, 128, ... -> 4, 8, 16, ...); "planner" keeps them; or a comma list with '
                         'one entry per stage')
    ap.add_argument('--nnunet-device', default='cpu', choices=['cpu', 'cuda', 'mps'],
                    help='nnU-Net device for training and prediction (default cpu; cuda predicts under fp16 '
                         'autocast, so expect small differences)')
    ap.add_argument('--n-proc-da', type=int, default=2, help='nnUNet_n_proc_DA for training (default 2)')
    ap.add_argument('--reuse', action='store_true', help='reuse the trained model in --work if present')
    ap.add_argument('--model', type=Path, help='existing nnU-Net model folder (skips synth and training)')
    ap.add_argument('--images', type=Path, help='with --model: folder of <case>_0000.nii.gz to predict')
    ap.add_argument('--expected', type=Path,
                    help='with --model: nnU-Net outputs already made (<case>.nii.gz + <case>.npz or '
                         '<case>_probabilities.npy): nnU-Net is not run')
    ap.add_argument('--nnunet-extra', default='', help='extra nnUNetv2_predict_from_modelfolder arguments')
    ap.add_argument('--unet3d-extra', default='', help='extra `unet3d predict` arguments, e.g. "--kernels builtin"')
    a = ap.parse_args()

    a.unet3d = str(Path(a.unet3d).resolve()) if Path(a.unet3d).exists() else a.unet3d
    if shutil.which(a.unet3d) is None and not Path(a.unet3d).exists():
        sys.exit(f'unet3d binary {a.unet3d} not found (cargo build --release, or --unet3d PATH)')
    if (a.images or a.expected) and not a.model:
        sys.exit('--images/--expected need --model')
    if a.model and not a.images:
        sys.exit('--model needs --images')
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    threads = str(max(1, a.threads))
    env = dict(os.environ)
    env.update({
        'nnUNet_raw': str(work / 'nnUNet_raw'), 'nnUNet_preprocessed': str(work / 'nnUNet_preprocessed'),
        'nnUNet_results': str(work / 'nnUNet_results'), 'nnUNet_compile': 'f', 'nnUNet_n_proc_DA': '1',
        'nnUNet_def_n_proc': threads, 'OMP_NUM_THREADS': threads, 'MKL_NUM_THREADS': threads,
        'RAYON_NUM_THREADS': threads, 'UNET3D_NNUNET_THREADS': threads,
    })
    ext = env.get('nnUNet_extTrainer')
    env['nnUNet_extTrainer'] = str(TRAINERS) + (os.pathsep + ext if ext else '')

    if a.model:
        model, images = a.model.resolve(), a.images.resolve()
    else:
        model, images = prepare_model(a, env, work)
    dataset_json = json.loads((model / 'dataset.json').read_text())
    n_classes = len([k for k in dataset_json['labels'] if k != 'ignore'])
    ending = dataset_json.get('file_ending', '.nii.gz')
    scans = sorted(images.glob(f'*_0000{ending}'))
    if not scans:
        sys.exit(f'no *_0000{ending} scans in {images}')
    cases = [s.name[:-len(f'_0000{ending}')] for s in scans]
    folds = [str(f) for f in a.folds]
    log(f'model {model}\ncases {cases}, folds {folds}, {threads} thread(s)')

    # 3. nnU-Net
    nn_time = {}
    if a.expected:
        ref_dir = a.expected.resolve()
        log(f'[3] nnU-Net outputs from {ref_dir} (not re-run)')
    else:
        ref_dir = work / 'pred_nnunet'
        if ref_dir.exists():
            shutil.rmtree(ref_dir)
        log(f'[3] nnU-Net predict ({a.nnunet_device})')
        for case, scan in zip(cases, scans):
            one = work / 'single_input' / case
            if one.exists():
                shutil.rmtree(one)
            one.mkdir(parents=True)
            shutil.copy2(scan, one / scan.name)
            ok, dt = run([tool('nnUNetv2_predict_from_modelfolder'), '-i', one, '-o', ref_dir, '-m', model,
                          '-f', *folds, '-device', a.nnunet_device, '--save_probabilities',
                          '--disable_progress_bar', '-npp', '1', '-nps', '1', *shlex.split(a.nnunet_extra)],
                         env, work / 'logs' / f'nnunet_predict_{case}.log')
            nn_time[case] = dt

    # 4. unet3d
    out_root = work / 'pred_unet3d'
    if out_root.exists():
        shutil.rmtree(out_root)
    run_dir = work / 'unet3d_import'
    import_ok = True
    if 'import' in a.routes:
        log('[4] unet3d import nnunet')
        if run_dir.exists():
            shutil.rmtree(run_dir)
        import_ok, dt = run([a.unet3d, 'import', 'nnunet', model, '--out', run_dir], env,
                            work / 'logs' / 'unet3d_import.log', check=False)
        log(f'    import {"ok" if import_ok else "FAILED"} in {dt:.1f} s')
    results = []
    failed = False
    for case, scan in zip(cases, scans):
        ref_seg, ref_geom = read_seg(ref_dir / f'{case}{ending}')
        ref_probs = read_probs(ref_dir / case)
        if ref_probs is None:
            log(f'    note: no nnU-Net probabilities for {case}; only segmentations compared')
        for dev in a.devices:
            for route in a.routes:
                out = out_root / f'{route}_{dev}'
                out.mkdir(parents=True, exist_ok=True)
                seg_out, prob_out = out / f'{case}{ending}', out / f'{case}.npy'
                row = {'case': case, 'device': dev, 'route': route, 'nnunet_s': nn_time.get(case),
                       'nnunet_voxels': [int((ref_seg == c).sum()) for c in range(1, n_classes)]}
                if route == 'import' and not import_ok:
                    row.update(error='import failed', unet3d_s=None, dice=[None] * (n_classes - 1))
                    results.append(row)
                    failed = True
                    continue
                cmd = [a.unet3d, 'predict', '--model', model if route == 'model' else run_dir, '--input', scan,
                       '--output', seg_out, '--folds', *folds, '--probabilities', prob_out, '--device', dev,
                       '--postprocess', 'none', *shlex.split(a.unet3d_extra)]
                ok, dt = run(cmd, env, work / 'logs' / f'unet3d_{route}_{dev}_{case}.log', check=False)
                row['unet3d_s'] = dt
                if not ok:
                    row.update(error='unet3d predict failed', dice=[None] * (n_classes - 1))
                    failed = True
                else:
                    row.update(compare(ref_seg, ref_geom, ref_probs, seg_out, prob_out, n_classes))
                    if row['error']:
                        failed = True
                results.append(row)

    # 5. table
    names = [k for k, v in sorted(dataset_json['labels'].items(), key=lambda kv: kv[1]) if k != 'ignore'][1:]
    head = ['case', 'device', 'route'] + [f'Dice {n}' for n in names] + \
        ['nnU-Net fg vox', 'diff vox', 'max|dp|', 'geom', 'nnU-Net s', 'unet3d s', 'note']
    rows = []
    for r in results:
        dice = r.get('dice') or []
        bad = any(d is None or d < a.min_dice for d in dice)
        failed |= bad
        f = lambda x, p: '-' if x is None else (f'{x:.{p}f}' if isinstance(x, float) else str(x))
        rows.append([r['case'], r['device'], r['route']] + [f(d, 4) for d in dice] +
                    ['/'.join(map(str, r['nnunet_voxels'])), f(r.get('diff_voxels'), 0), '-' if r.get('max_abs_prob') is None else f'{r["max_abs_prob"]:.2e}',
                     {True: 'ok', False: 'DIFF', None: '-'}[r.get('geometry')], f(r.get('nnunet_s'), 1),
                     f(r.get('unet3d_s'), 1),
                     ' '.join(x for x in (r.get('error'), f'Dice<{a.min_dice:g}' if bad else None,
                                          'nnU-Net found no foreground: train longer' if not any(r['nnunet_voxels'])
                                          else None) if x)])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: '  '.join(str(c).ljust(w) for c, w in zip(cells, widths))
    log('')
    log(line(head))
    log(line(['-' * w for w in widths]))
    for r in rows:
        log(line(r))
    if nn_time:
        log(f'\nnnU-Net: {sum(nn_time.values()):.1f} s for {len(nn_time)} case(s), one command per case '
            f'(-device {a.nnunet_device}, {threads} thread(s)); unet3d likewise one command per case and device.')
    summary = {'model': str(model), 'folds': a.folds, 'threads': int(threads), 'min_dice': a.min_dice,
               'nnunet_device': a.nnunet_device, 'results': results, 'passed': not failed}
    (work / 'parity.json').write_text(json.dumps(summary, indent=2))
    log(f'{"PASS" if not failed else "FAIL"} (details: {work / "parity.json"}, logs: {work / "logs"})')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
