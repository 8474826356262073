"""Methods compared by the evaluation: three baselines and the pipeline.

Every method maps ``(portrait, driver_frames, fps, protocol)`` to one output
frame per driver frame. Inputs and outputs are ``HxWx3`` ``uint8`` RGB.

* ``static``: the portrait unchanged in every frame (identity upper bound,
  zero motion);
* ``driver``: the driver frames themselves (motion upper bound, wrong
  identity); in the self protocol it *is* the ground truth, so it is left out
  there;
* ``naive2d``: :mod:`reenactor.eval.naive2d`;
* ``reenactor``: :meth:`reenactor.api.Reenactor.animate_frames` with the
  default :class:`reenactor.config.ReenactorConfig` and default arguments,
  exactly as a user runs it: automatic motion reference
  (``reference_frame=None``) in both protocols, ``motion="relative"``;
* ``reenactor-ref0``: the same pipeline with ``reference_frame=0`` (the
  ``--reference-frame 0`` run; in the self protocol frame 0 is the portrait,
  so this is the reference an oracle would pick), to measure how far the
  automatic reference is from it in one run;
* ``reenactor-mouth-MODE`` (``driver``, ``learned``, ``synthetic``, ``off``):
  the same pipeline with ``RenderConfig.mouth`` forced to ``MODE``, to compare
  inner-mouth modes in one run.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from reenactor.config import MOUTH_MODES
from reenactor.errors import InputError

METHOD_NAMES = ("static", "driver", "naive2d", "reenactor")
#: Extra method names: the pipeline with one inner-mouth mode forced.
MOUTH_VARIANTS = {f"reenactor-mouth-{m}": m for m in MOUTH_MODES}
#: Extra method names: the pipeline with one retargeting method forced (RetargetConfig.method).
RETARGET_VARIANTS = {"reenactor-geometric": "geometric", "reenactor-ldnet": "ldnet"}
#: "reenactor-ref0": the pipeline with the driver's frame 0 as the motion reference.
REF0 = "reenactor-ref0"
#: "reenactor-warponly": the warp-only pipeline of release 0.1 kept as a
#: baseline for the realism layers (issue 4): everything in the crop warped
#: (no background plate), the driver's inner mouth, no mirrored fill, no lash
#: band, lid blur or lash line, and the face outline feathered by blending
#: displacements (no seam layer).
#: "reenactor-irises": the pipeline with the iris renderer on (RenderConfig.eyes),
#: which is off by default since issue 13 measured it lowering eye-open correlation.
IRISES = "reenactor-irises"
WARP_ONLY = "reenactor-warponly"
WARP_ONLY_RENDER = {
    "background": "warp",
    "mouth": "driver",
    "mirror_visibility": 0.0,
    "lash_fraction": 0.0,
    "lid_blur": 0.0,
    "lash_line": 0.0,
    "seam_gap_full": 0.0,
}


class Method(Protocol):
    """A reenactment method under evaluation."""

    name: str

    def generate(
        self, portrait: np.ndarray, driver_frames: list[np.ndarray], fps: float, protocol: str
    ) -> list[np.ndarray]:
        """One ``HxWx3`` ``uint8`` RGB output frame per driver frame."""
        ...  # pragma: no cover


class StaticMethod:
    """The portrait unchanged (one shared array, repeated)."""

    name = "static"

    def generate(self, portrait, driver_frames, fps, protocol):
        """``[portrait] * len(driver_frames)``."""
        return [portrait] * len(driver_frames)


class DriverMethod:
    """The driver frames themselves."""

    name = "driver"

    def generate(self, portrait, driver_frames, fps, protocol):
        """``list(driver_frames)``."""
        return list(driver_frames)


class Naive2DMethod:
    """Naive-2D landmark-delta warp (mediapipe landmarks; see :mod:`reenactor.eval.naive2d`)."""

    name = "naive2d"

    def __init__(self) -> None:
        from reenactor.eval.naive2d import Naive2D  # noqa: PLC0415

        self._impl = Naive2D()

    def generate(self, portrait, driver_frames, fps, protocol):
        """Warp the portrait by the driver's 2D landmark deltas."""
        return self._impl.animate(portrait, driver_frames)


class ReenactorMethod:
    """The pipeline: ``Reenactor(ReenactorConfig()).animate_frames(...)``."""

    name = "reenactor"

    def __init__(
        self,
        mouth: str | None = None,
        retarget: str | None = None,
        render: dict | None = None,
        name: str | None = None,
        reference_frame: int | None = None,
    ) -> None:
        from dataclasses import replace  # noqa: PLC0415

        from reenactor.api import Reenactor  # noqa: PLC0415
        from reenactor.config import ReenactorConfig  # noqa: PLC0415

        cfg = ReenactorConfig()
        if mouth is not None:
            # "reenactor-mouth-MODE": the pipeline with RenderConfig.mouth = MODE.
            cfg = replace(cfg, render=replace(cfg.render, mouth=mouth))
            self.name = f"reenactor-mouth-{mouth}"
        if retarget is not None:
            # "reenactor-ldnet": the pipeline with RetargetConfig.method = "ldnet".
            cfg = replace(cfg, retarget=replace(cfg.retarget, method=retarget))
            self.name = f"reenactor-{retarget}"
        if render:
            cfg = replace(cfg, render=replace(cfg.render, **render))
        if name:
            self.name = name
        self.reference_frame = reference_frame
        self._impl = Reenactor(cfg)

    def generate(self, portrait, driver_frames, fps, protocol):
        """Animate with the user's defaults (``reference_frame`` None: automatic) in both protocols."""
        return self._impl.animate_frames(
            portrait,
            driver_frames,
            fps=fps,
            reference_frame=self.reference_frame,
            motion="relative",
            crop=False,
        )


def variant_config(overrides: dict):
    """A :class:`~reenactor.config.ReenactorConfig` with ``overrides`` applied:
    ``{section: {field: value}}`` (sections: the config's fields, e.g. ``retarget``,
    ``render``, ``smoothing``); validated as any configuration.

    Raises:
        InputError: an unknown section or field, or a value the configuration refuses.
    """
    from dataclasses import fields, replace  # noqa: PLC0415

    from reenactor.config import ReenactorConfig  # noqa: PLC0415
    from reenactor.errors import ReenactorError  # noqa: PLC0415

    cfg = ReenactorConfig()
    sections = {f.name for f in fields(cfg)}
    for section, values in overrides.items():
        part = getattr(cfg, section, None) if section in sections else None
        if part is None or not isinstance(values, dict):
            raise InputError(f"variant: unknown config section {section!r} (known: {', '.join(sorted(sections))})")
        known = {f.name for f in fields(part)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"variant: unknown {section} field(s) {', '.join(unknown)}")
        try:
            cfg = replace(cfg, **{section: replace(part, **values)})
        except (ReenactorError, TypeError, ValueError) as exc:
            raise InputError(f"variant: {exc}") from None
    return cfg


def variant_method(name: str, overrides: dict) -> "ReenactorMethod":
    """The pipeline under the name ``name`` with configuration ``overrides`` (:func:`variant_config`)."""
    from reenactor.api import Reenactor  # noqa: PLC0415

    method = ReenactorMethod(name=name)
    method._impl = Reenactor(variant_config(overrides))
    return method


def pipeline_available() -> bool:
    """True when :mod:`reenactor.api` can be imported (the pipeline exists)."""
    try:
        from reenactor.api import Reenactor  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def make_methods(names: list[str] | tuple[str, ...], variants: dict[str, dict] | None = None) -> list[Method]:
    """Instantiate methods by name, in the order given; a name of ``variants`` is the pipeline
    with that configuration override (:func:`variant_method`).

    Raises:
        InputError: an unknown name, or ``reenactor`` while the pipeline is missing.
    """
    out: list[Method] = []
    variants = variants or {}
    for n in names:
        if n in variants:
            out.append(variant_method(n, variants[n]))
        elif n == "static":
            out.append(StaticMethod())
        elif n == "driver":
            out.append(DriverMethod())
        elif n == "naive2d":
            out.append(Naive2DMethod())
        elif n == REF0:
            out.append(ReenactorMethod(name=REF0, reference_frame=0))
        elif n == WARP_ONLY:
            out.append(ReenactorMethod(render=WARP_ONLY_RENDER, name=WARP_ONLY))
        elif n == IRISES:
            out.append(ReenactorMethod(render={"eyes": True}, name=IRISES))
        elif n in RETARGET_VARIANTS:
            out.append(ReenactorMethod(retarget=RETARGET_VARIANTS[n]))
        elif n == "reenactor" or n in MOUTH_VARIANTS:
            if not pipeline_available():
                raise InputError(f"method {n!r} asked, but reenactor.api cannot be imported")
            out.append(ReenactorMethod(MOUTH_VARIANTS.get(n)))
        else:
            raise InputError(f"unknown method {n!r} (choose from {', '.join(METHOD_NAMES + (REF0, IRISES, WARP_ONLY) + tuple(MOUTH_VARIANTS) + tuple(RETARGET_VARIANTS))})")
    return out
