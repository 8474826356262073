"""The registry of docs figures: name -> maker, output under docs/, one-line description.

:data:`FIGURES` lists every picture ``reenactor figures`` makes;
:data:`MADE_ELSEWHERE` names the pictures under docs/ that other commands
write (the evaluation report, the LD-Net report), so that every picture under
docs/ has one documented maker. This module imports nothing heavy: a maker
(``"module:function"``) is imported only when its figure is made.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reenactor.errors import InputError


@dataclass(frozen=True)
class Figure:
    """One picture under docs/ and how it is made.

    Attributes:
        name: the figure's name on the command line.
        output: its path relative to docs/ (``.jpg`` or ``.png``).
        maker: ``"module:function"``; the function takes the data folder
            (``Path``, or None when ``needs_data`` is False) and returns the
            picture as an HxWx3 uint8 RGB array or as encoded bytes.
        description: one line for ``reenactor figures --list``.
        needs_data: whether it reads the clips of ../shared/data.
        quality: JPEG quality of the written file.
    """

    name: str
    output: str
    maker: str
    description: str
    needs_data: bool = True
    quality: int = 95


FIGURES: tuple[Figure, ...] = (
    Figure("strip", "strip.jpg", "reenactor.figures.overview:strip",
           "README: driver frames and three portraits driven by them"),
    Figure("demo_strip", "demo_strip.jpg", "reenactor.figures.overview:demo_strip",
           "README: the built-in demo motion on the astronaut", needs_data=False),
    Figure("background", "background.jpg", "reenactor.figures.head:background",
           "README: --background warp vs still at the widest head turn"),
    Figure("yaw_limit", "yaw_limit.jpg", "reenactor.figures.head:yaw_limit",
           "README: the astronaut turned 30-75 deg, without and with the yaw limit", needs_data=False),
    Figure("reveal_limit", "reveal_limit.jpg", "reenactor.figures.head:reveal_limit",
           "README: a three-quarter painting turned back towards the camera, without and with the reveal limit"),
    Figure("seam", "seam.jpg", "reenactor.figures.head:seam",
           "README: a turned head's face outline, displacements vs samples blended"),
    Figure("wink", "wink.jpg", "reenactor.figures.features:wink",
           "README: a wink and a downcast closure: full-closure snap, lid smoothing, lash line"),
    Figure("mouth_readings", "mouth_readings.jpg", "reenactor.figures.features:mouth_readings",
           "benchmarks.md: where dlib and mediapipe disagree about a driver's mouth opening"),
    Figure("mouth_strip", "mouth/strip.jpg", "reenactor.figures.features:mouth_strip",
           "mouth.md: driver vs learned inner mouths on held-out drivers", quality=85),
    Figure("mouth_curve", "mouth/val_curve.png", "reenactor.figures.features:mouth_curve",
           "mouth.md: the mouth model's validation curve, from its weight card", needs_data=False),
    Figure("fdgan_self_mouth", "fdgan/self_mouth.jpg", "reenactor.figures.mouths:fdgan_self_mouth",
           "fdgan.md: learned and FD-GAN mouths against the truth in self-reenactment, largest gains and loss", quality=90),
    Figure("fdgan_dlib_mouth", "fdgan/dlib_mouth.jpg", "reenactor.figures.mouths:fdgan_dlib_mouth",
           "fdgan.md: how dlib reads the driver's, the learned and the FD-GAN mouth at the driver's widest opening",
           quality=90),
    Figure("fdgan_mouth_strip", "fdgan/mouth_strip.jpg", "reenactor.figures.mouths:fdgan_mouth_strip",
           "fdgan.md: every inner-mouth mode on a moustache, a painting, a scream, a portrait with teeth, a small driver",
           quality=88),
)

#: (glob under docs/, the command that writes those pictures, what they are).
MADE_ELSEWHERE: tuple[tuple[str, str, str], ...] = (
    ("benchmarks/*.jpg", "bash scripts/make_benchmarks.sh", "eval report: per-item frame strips"),
    ("fdgan/ablation.jpg", "scripts/fdgan_ablation.py --runs RUN_FDGAN RUN_FDGAN1 RUN_ADAIN --figure F.png (then JPEG)",
     "fdgan.md: the Table 3 ablation's sample pairs"),
    ("fdgan/curve_*.png", "reenactor train fdgan (curve.png in its --out folder)", "fdgan.md: training and validation curves of the FD-GAN runs"),
    ("fdgan/lips80_inner_samples.png", "reenactor train fdgan (samples.png in its --out folder)", "fdgan.md: validation samples of the session-12 lips fine-tune"),
    ("benchmarks/*.png", "bash scripts/make_benchmarks.sh", "eval report: pose and expression curves"),
    ("benchmarks/regions/*.jpg", "bash scripts/make_benchmarks.sh", "eval report: mouth, eye and background region views"),
    ("ldnet/*.png", "bash scripts/make_ldnet_doc.sh", "LD-Net report: training and identity curves"),
    ("edit.jpg", ".venv/bin/python scripts/make_controls_doc.py", "reenactor edit: the astronaut and six edits (with docs/controls.md)"),
)


def figure_names() -> list[str]:
    """The names of :data:`FIGURES`, in order."""
    return [f.name for f in FIGURES]


def select(names: list[str] | None) -> list[Figure]:
    """The figures called ``names`` (all of them for None or an empty list), in registry order.

    Raises:
        InputError: an unknown name.
    """
    if not names:
        return list(FIGURES)
    unknown = [n for n in names if n not in figure_names()]
    if unknown:
        raise InputError(f"unknown figure {unknown[0]!r}: choose from {', '.join(figure_names())}")
    return [f for f in FIGURES if f.name in names]


def default_docs() -> Path | None:
    """docs/ of the checkout this package runs from (None for an installed copy)."""
    root = Path(__file__).resolve().parents[3]
    return root / "docs" if (root / "pyproject.toml").is_file() and (root / "docs").is_dir() else None


def make_figure(fig: Figure, out: Path, data: Path | None) -> Path:
    """Make ``fig`` and write it to ``out / fig.output`` (atomically); returns that path.

    Args:
        fig: the figure.
        out: the docs folder (or any other) to write under.
        data: the folder with MANIFEST.tsv; may be None when ``fig.needs_data`` is False.

    Raises:
        InputError: ``fig`` needs data and ``data`` is None.
        OutputError: the picture cannot be written.
    """
    from reenactor.figures.tiles import write_picture

    if fig.needs_data and data is None:
        raise InputError(f"figure {fig.name!r} needs the real clips of ../shared/data: pass --data DIR")
    module, function = fig.maker.split(":")
    picture = getattr(importlib.import_module(module), function)(data)
    return write_picture(out / fig.output, picture, fig.quality)


def make_figures(figures: list[Figure], out: Path, data: Path | None) -> Iterator[tuple[Path, float]]:
    """Make ``figures`` one after another; yields (written path, seconds taken) as each is done.

    Raises:
        InputError: one of them needs data and ``data`` is None (raised before any is made).
    """
    missing = [f.name for f in figures if f.needs_data and data is None]
    if missing:
        raise InputError(
            f"../shared/data not found ({', '.join(missing)} read its clips): pass --data DIR or set REENACTOR_DATA"
        )
    for fig in figures:
        start = time.perf_counter()
        path = make_figure(fig, out, data)
        yield path, time.perf_counter() - start
