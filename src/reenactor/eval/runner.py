"""Runs the protocols: generation, measurement, timing, memory, strips.

The run is deterministic: fixed item order (``sets.tsv``), the first
``max_frames`` frames of every clip, fixed seeds, no sampling. Only the
speed and memory figures vary between machines and runs.

Speed: ``fps`` = output frames / wall-clock seconds of the method's
``generate`` call (model construction excluded, per-portrait preparation
included). Memory: the peak resident set size of the process while the method
ran, sampled from ``/proc/self/statm`` every 10 ms (``peak_rss_mb``), and
its rise over the RSS at the call's start (``rss_rise_mb``, after a garbage
collection and ``malloc_trim``, so it does not depend on the method run
before); the
process-wide ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the
run is reported too. RSS counts everything the process holds (models, decoded
clips), so only the rise is specific to a method.

The memory figures are taken by :mod:`reenactor.eval.memory`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from reenactor.errors import NoFaceError, ReenactorError
from reenactor.eval import amplitude as A
from reenactor.eval import metrics as M
from reenactor.eval import protocols as P
from reenactor.eval import regions as R
from reenactor.eval.dlibface import DlibFace, FaceMeasurement
from reenactor.eval.methods import REF0
from reenactor.eval.imageops import check_rgb, crop_square, fit_box, letterbox, square_box_around
from reenactor.eval.media import read_image, read_video
from reenactor.eval.memory import PeakRSS, max_rss_mb, release_free_memory  # noqa: F401
from reenactor.eval.methods import Method
from reenactor.eval.sets import EvalItem

SEED = 0
STRIP_TILE = 128


@dataclass
class RunOptions:
    """Knobs of a run.

    Attributes:
        max_frames: frames read from each driver clip (from the start).
        id_stride: identity descriptors on every ``id_stride``-th frame
            (1 = every frame; the ResNet descriptor costs ~75 ms per face).
        strip_frames: frames shown per item in the strips.
    """

    max_frames: int = 90
    id_stride: int = 1
    strip_frames: int = 5


@dataclass
class ItemResult:
    """Everything measured for one item.

    Attributes:
        info: item description (names, half, sizes, fps, audio) for the report;
            ``amp_noise``: dlib's noise floor per amplitude channel on this item.
        metrics: ``{method: {metric: value}}``.
        speed: ``{method: {"seconds", "frames", "fps", "peak_rss_mb", "rss_rise_mb"}}``.
        errors: ``{method: message}`` for methods that raised a
            :class:`reenactor.errors.ReenactorError` on this item.
        series: ``{method: {series name: per-frame list}}`` for plots.
        strip: ``HxWx3`` ``uint8`` RGB strip image (rows: driver/ground truth
            and each method; columns: sampled frames).
        strip_rows: row labels of ``strip``.
        strip_times: frame indices of the columns of ``strip``.
        regions: ``HxWx3`` ``uint8`` RGB region view (:mod:`reenactor.eval.regions`:
            mouth, eyes and background crops at the driver's extreme frames;
            rows: driver/ground truth and each method), or None.
        regions_frames: the picked frames and their driver values
            (:meth:`reenactor.eval.regions.RegionFrames.as_dict`).
        regions_notes: ``{row label: {column: mark}}`` for tiles marked
            ``mapped`` / ``on face`` / ``failed``.
    """

    info: dict
    metrics: dict = field(default_factory=dict)
    speed: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)
    strip: np.ndarray | None = None
    strip_rows: list = field(default_factory=list)
    strip_times: list = field(default_factory=list)
    regions: np.ndarray | None = None
    regions_frames: dict = field(default_factory=dict)
    regions_notes: dict = field(default_factory=dict)


def seed_everything(seed: int = SEED) -> None:
    """Fix Python, numpy and OpenCV random seeds."""
    random.seed(seed)
    np.random.seed(seed)
    cv2.setRNGSeed(seed)


def _measure_all(face: DlibFace, frames: list[np.ndarray], id_stride: int) -> list[FaceMeasurement]:
    return [face.measure(f, descriptor=(t % id_stride == 0)) for t, f in enumerate(frames)]


def _strip_times(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})


def _tile(frame: np.ndarray, box) -> np.ndarray:
    if box is None:
        return letterbox(frame, (STRIP_TILE, STRIP_TILE))[0]
    return crop_square(frame, box, STRIP_TILE)


def _face_box(meas: list[FaceMeasurement], scale: float):
    found = [m for m in meas if m.found]
    if not found:
        return None
    box = square_box_around(np.concatenate([m.landmarks for m in found]), scale=scale)
    return fit_box(box, *found[0].size)


def compose_strip(rows: list[list[np.ndarray]], labels: list[str]) -> np.ndarray:
    """Stack rows of equally sized tiles with a label band on the left.

    Args:
        rows: per row, a list of ``TxTx3`` ``uint8`` RGB tiles (same count per row).
        labels: one label per row.

    Returns:
        ``HxWx3`` ``uint8`` RGB image.
    """
    label_w = 96
    out_rows = []
    for tiles, label in zip(rows, labels):
        band = np.full((STRIP_TILE, label_w, 3), 255, np.uint8)
        cv2.putText(band, label[:12], (4, STRIP_TILE // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        gap = np.full((STRIP_TILE, 2, 3), 255, np.uint8)
        parts = [band]
        for t in tiles:
            parts.extend([t, gap])
        out_rows.append(np.hstack(parts[:-1]))
        out_rows.append(np.full((2, out_rows[-1].shape[1], 3), 255, np.uint8))
    return np.vstack(out_rows[:-1])


def run_item(
    item: EvalItem,
    data_dir: Path,
    methods: list[Method],
    face: DlibFace,
    options: RunOptions,
    step: Callable[[str], None] | None = None,
) -> ItemResult:
    """Generate and score every method on one item.

    Args:
        item: the clip (self) or pair (cross).
        data_dir: root of the data set.
        methods: methods to run (``driver`` is skipped in the self protocol,
            ``reenactor-ref0`` in the cross protocol, where frame 0 is no
            better a reference than any other).
        face: the dlib measurer.
        options: run options.
        step: called with a short label after each stage (progress bar).

    Returns:
        An :class:`ItemResult`.

    Raises:
        InputError: unreadable inputs; NoFaceError: no face in the portrait
            or in every driver frame (per dlib).
    """
    seed_everything()
    face.clear_cache()
    clip = read_video(data_dir / item.driver, options.max_frames)
    drv = [check_rgb(f, "driver frame") for f in clip.frames]
    n = len(drv)
    if item.protocol == "self":
        portrait = drv[0]
    else:
        portrait = read_image(data_dir / item.portrait)
    ph, pw = portrait.shape[:2]
    dh, dw = drv[0].shape[:2]
    info = {
        "name": item.name,
        "protocol": item.protocol,
        "half": item.half,
        "portrait": item.portrait or f"{item.driver} (frame 0)",
        "driver": item.driver,
        "why": item.why,
        "frames": n,
        "fps": round(clip.fps, 3),
        "driver_size": [dw, dh],
        "portrait_size": [pw, ph],
        "has_audio": clip.has_audio,
    }
    res = ItemResult(info=info)
    ref_meas = _measure_all(face, drv, options.id_stride)
    if not any(m.found for m in ref_meas):
        raise NoFaceError(f"{item.name}: dlib finds no face in any driver frame")
    if step:
        step("measure driver")
    p_meas = face.measure(portrait, descriptor=True)
    if not p_meas.found:
        raise NoFaceError(f"{item.name}: dlib finds no face in the portrait")
    info["driver_face_found"] = float(np.mean([m.found for m in ref_meas]))
    driver_desc = None
    descs = [m.descriptor for m in ref_meas if m.descriptor is not None]
    if descs:
        driver_desc = np.mean(descs, axis=0)
    if item.protocol == "cross":
        info["portrait_driver_id_dist"] = M.identity_distance(p_meas.descriptor, driver_desc) if driver_desc is not None else None
    # Amplitude reference: the driver's (ground truth's) channels and dlib's noise floor on its first face.
    ref_amp = A.channel_series([m.landmarks for m in ref_meas])
    t_face = next(t for t, m in enumerate(ref_meas) if m.found)
    info["amp_noise"] = A.measure_noise(face, drv[t_face], ref_meas[t_face].landmarks)

    times = _strip_times(n, options.strip_frames)
    drv_box = _face_box(ref_meas, 1.6)
    if item.protocol == "cross":
        out_box = fit_box(square_box_around(p_meas.landmarks, scale=2.0), pw, ph)
    else:
        out_box = drv_box
    strip_rows = [[_tile(drv[t], drv_box) for t in times]]
    strip_labels = ["ground truth" if item.protocol == "self" else "driver"]
    gt_box = P.self_crop_box(ref_meas) if item.protocol == "self" else None
    sig = R.driver_signals(ref_meas)
    picks = R.pick_frames(sig["mouth_open"], sig["eye_open"], sig["yaw"])
    first_face = next(m for m in ref_meas if m.found)
    region_rows = [
        R.region_row(
            strip_labels[0], {t: drv[t] for t in picks.indices}, {t: ref_meas[t] for t in picks.indices},
            picks, first_face.landmarks, first_face.size,
        )
    ]

    for method in methods:
        if item.protocol == "self" and method.name == "driver":
            continue  # identical to the ground truth by construction
        if item.protocol == "cross" and method.name == REF0:
            continue  # only the self protocol has a right reference (frame 0)
        release_free_memory()
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            try:
                outs = method.generate(portrait, drv, clip.fps, item.protocol)
                err = None
            except ReenactorError as exc:
                outs, err = None, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - t0
        if err is None and len(outs) != n:
            err = f"returned {len(outs)} frames for {n} driver frames"
            outs = None
        trivial = method.name in ("static", "driver")
        res.speed[method.name] = {
            "seconds": seconds,
            "frames": n,
            "fps": (n / seconds) if (not trivial and err is None and seconds > 0) else None,
            "peak_rss_mb": mem.peak_mb,
            "rss_rise_mb": (mem.peak_mb - mem.start_mb) if mem.peak_mb is not None else None,
        }
        if err is not None:
            res.errors[method.name] = err
            res.metrics[method.name] = {"face_found": 0.0, "id_verify": 0.0} if item.protocol == "cross" else {"face_found": 0.0}
            strip_rows.append([np.zeros((STRIP_TILE, STRIP_TILE, 3), np.uint8) for _ in times])
            strip_labels.append(method.name)
            region_rows.append(R.failed_row(method.name))
            if step:
                step(method.name)
            continue
        out_meas: list[FaceMeasurement] = []
        tiles = []
        kept: dict[int, np.ndarray] = {}  # output frames at the region picks
        box = drv_box if method.name == "driver" else out_box
        if item.protocol == "self":
            acc = P.SelfAccumulator(drv, ref_meas, gt_box, options.id_stride)
            for t, o in enumerate(outs):
                o = acc.prepare(check_rgb(o, f"{method.name} output"))
                m = face.measure(o, descriptor=(t % options.id_stride == 0 and t > 0))
                out_meas.append(m)
                acc.add(t, o, m)
                if t in times:
                    tiles.append(_tile(o, box))
                if t in picks.indices:
                    kept[t] = o
            scores = acc.result()
        else:
            for t, o in enumerate(outs):
                o = check_rgb(o, f"{method.name} output")
                out_meas.append(face.measure(o, descriptor=(t % options.id_stride == 0)))
                if t in times:
                    tiles.append(_tile(o, box))
                if t in picks.indices:
                    kept[t] = o
            scores = P.identity_cross(out_meas, p_meas.descriptor, driver_desc, options.id_stride)
        del outs
        mot, series = P.motion(out_meas, ref_meas)
        mot.update(A.amplitude(A.channel_series([m.landmarks for m in out_meas]), ref_amp, info["amp_noise"]))
        for k, v in mot.items():
            scores.setdefault(k, v)
        res.metrics[method.name] = scores
        res.series[method.name] = series
        if method.name != "driver":  # already the strip's first (reference) row
            strip_rows.append(tiles)
            strip_labels.append(method.name)
            region_rows.append(
                R.region_row(method.name, kept, {t: out_meas[t] for t in kept}, picks, p_meas.landmarks, p_meas.size)
            )
        del kept
        if step:
            step(method.name)
    res.strip = compose_strip(strip_rows, strip_labels)
    res.strip_rows = strip_labels
    res.strip_times = times
    title = f"{item.name} ({item.protocol}): portrait {info['portrait']}, driver {item.driver}"
    res.regions = R.compose_regions(region_rows, picks, title)
    res.regions_frames = picks.as_dict()
    res.regions_notes = {r.label: r.notes for r in region_rows if r.notes}
    face.clear_cache()
    return res


def total_steps(items: list[EvalItem], methods: list[Method]) -> int:
    """Progress-bar length: one step for the driver and one per method and item."""
    total = 0
    for it in items:
        total += 1 + sum(1 for m in methods if not (it.protocol == "self" and m.name == "driver"))
    return total
