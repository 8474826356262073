"""``reenactor train MODEL``: argument parsing for the training entry points.

Each trainer module named in :data:`TRAINERS` exposes two functions and must
import torch only inside them, so ``reenactor --help`` works without torch:

* ``add_arguments(parser: argparse.ArgumentParser) -> None``
* ``run(args: argparse.Namespace) -> int``
"""

from __future__ import annotations

import argparse
import importlib

from reenactor.errors import DependencyError

#: model name -> (module, one-line help)
TRAINERS: dict[str, tuple[str, str]] = {
    "ldnet": ("reenactor.train.ldnet", "LD-Net: landmark disentanglement of identity from pose/expression"),
    "mouth": ("reenactor.train.mouth", "the learned inner-mouth painter"),
    "fdgan": ("reenactor.train.fdgan", "FD-GAN: landmark image + portrait -> face or inner-mouth crop (Sec. 3.2)"),
    "directions": ("reenactor.train.directions", "the map A from expression channels to landmark displacements (numpy)"),
}


def add_train_parser(sub) -> None:
    """Add ``train`` with one sub-command per trainer to a subparsers object."""
    p = sub.add_parser("train", help="train a model on the shared data (needs the train extra: torch)")
    tsub = p.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, (module, help_text) in TRAINERS.items():
        tp = tsub.add_parser(name, help=help_text, description=help_text)
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.add_arguments(tp)


def run_train(args: argparse.Namespace) -> int:
    """Dispatch to the trainer's ``run``.

    Raises:
        DependencyError: torch is not installed.
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise DependencyError("training needs PyTorch: pip install 'reenactor[train]'") from exc
    module = importlib.import_module(TRAINERS[args.model][0])
    return int(module.run(args))
