"""A short nnU-Net v2 trainer for CPU test fixtures (unet3d's nnU-Net parity checks).

nnU-Net finds it through the environment variable `nnUNet_extTrainer` (a folder searched for trainer
classes by name), so nothing is installed into site-packages:

    nnUNet_extTrainer=benches/nnunet_parity/trainers nnUNetv2_train DATASET 3d_fullres 0 \
        -tr nnUNetTrainer_unet3dFixture -device cpu

The variable must also be set for `nnUNetv2_predict*` with a model trained by it: the predictor looks the
trainer class up by the name stored in the checkpoint.

Everything else (loss, deep supervision, augmentation, poly learning rate, SGD) is stock nnUNetTrainer.
Knobs, read once when the trainer is created (defaults = the values used for tests/data/nnunet-tiny):

    UNET3D_NNUNET_EPOCHS       number of epochs                    (default 20)
    UNET3D_NNUNET_ITERS        training iterations per epoch       (default 100)
    UNET3D_NNUNET_VAL_ITERS    validation iterations per epoch     (default 10)
    UNET3D_NNUNET_SEED         seed for python/numpy/torch RNGs    (default 12345; "none" = unseeded)
    UNET3D_NNUNET_THREADS      torch CPU threads for training      (default: leave nnU-Net's choice, which
                               with -device cpu is every core)

Seeding makes the network initialisation repeatable. Training as a whole is repeatable only with
`nnUNet_n_proc_DA=0` (augmentation in the main process) on the same machine, torch and thread count:
nnU-Net's multi-process augmenter is unseeded by design.
"""
import os
import random

import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, '').strip()
    return int(value) if value else default


class nnUNetTrainer_unet3dFixture(nnUNetTrainer):
    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device('cuda')):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = _env_int('UNET3D_NNUNET_EPOCHS', 20)
        self.num_iterations_per_epoch = _env_int('UNET3D_NNUNET_ITERS', 100)
        self.num_val_iterations_per_epoch = _env_int('UNET3D_NNUNET_VAL_ITERS', 10)
        seed = os.environ.get('UNET3D_NNUNET_SEED', '12345').strip().lower()
        if seed not in ('', 'none'):
            # different folds get different (but fixed) seeds
            s = int(seed) + 1000 * (fold if isinstance(fold, int) else 0)
            random.seed(s)
            np.random.seed(s)
            torch.manual_seed(s)
        threads = _env_int('UNET3D_NNUNET_THREADS', 0)
        if threads > 0:
            torch.set_num_threads(threads)
