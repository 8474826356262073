"""Per-frame cost of the learned inner-mouth painters, for ``reenactor bench --mouth-models``.

Each painter is built for the prepared astronaut (or the bench's portrait)
and asked for a wide-open mouth; the figures are medians over ``runs`` calls
after two warm-ups, onnxruntime on one thread:

* ``network_ms``: the ONNX session alone (for ``fdgan``: the per-frame
  translator; the extractor runs once per portrait and is timed as
  ``per_portrait_ms``);
* ``painter_ms``: the whole per-frame paint (crop, condition, landmark
  image, network; for ``fdgan`` with a driver mouth, which a ``cond="hint"``
  model reads), without the warp back and the blend.

A painter whose model is not shipped is reported with its error instead.
"""

from __future__ import annotations

import time

import numpy as np


def _median_ms(fn, runs: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(1000.0 * float(np.median(times)), 2)


def mouth_model_times(portrait, runs: int = 50) -> dict[str, dict]:
    """``{"learned": {...}, "fdgan": {...}}`` for a prepared portrait (see the module docstring)."""
    from reenactor.errors import ReenactorError
    from reenactor.motion.templates import ExpressionBasis, MotionParams
    from reenactor.render.mouth import extract_mouth_patch
    from reenactor.render.mouth_fdgan import FDGANMouthPainter
    from reenactor.render.mouth_learned import LearnedMouthPainter, appearance

    img, lm = portrait.crop_image, portrait.crop_landmarks
    target = ExpressionBasis(portrait.rig).landmarks(MotionParams(mouth_open=1.0))
    out: dict[str, dict] = {}
    painters = (("learned", lambda: LearnedMouthPainter(appearance(img, lm))), ("fdgan", lambda: FDGANMouthPainter(img, lm)))
    for name, make in painters:
        try:
            t0 = time.perf_counter()
            painter = make()
            once = round(1000.0 * (time.perf_counter() - t0), 1)
            feeds, _ = painter.inputs(target) if name == "fdgan" else painter.inputs(img, target)
            args = (img, target, extract_mouth_patch(img, target)) if name == "fdgan" else (img, target)
            out[name] = {"network_ms": _median_ms(lambda: painter.session.run(None, feeds), runs),
                         "painter_ms": _median_ms(lambda: painter.paint(*args), runs)}
            if name == "fdgan":
                out[name] |= {"crop_px": painter.size, "per_portrait_ms": once}
        except ReenactorError as exc:
            out[name] = {"error": str(exc)}
    return out


def mouth_model_lines(times: dict[str, dict]) -> list[str]:
    """Printable lines of :func:`mouth_model_times`."""
    lines = ["  inner-mouth networks (onnxruntime, 1 thread, median per frame):"]
    for name, t in times.items():
        if "error" in t:
            lines.append(f"    {name:<8} not measured: {t['error']}")
            continue
        extra = f", {t['crop_px']} px crop, extractor {t['per_portrait_ms']} ms once per portrait" if "crop_px" in t else ""
        lines.append(f"    {name:<8} network {t['network_ms']:.2f} ms, whole painter {t['painter_ms']:.2f} ms{extra}")
    return lines
