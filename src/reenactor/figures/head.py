"""Figures of the turning head: background modes, the face-outline seam, the yaw and reveal limits.

Each function returns the figure as an ``HxWx3`` ``uint8`` RGB array.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reenactor.figures.tiles import config_with, fit_tile, label, read_clip, read_portrait, render_row

BACKGROUND_PORTRAITS = ("portraits/deepface__img54.jpg", "portraits/SadTalker__art_11.png", "portraits/deepface__img20.jpg")
BACKGROUND_DRIVER = "videos/SadTalker__WDA_KatieHill_000.mp4"
BACKGROUND_TILE = 256
BACKGROUND_COLUMNS = ("portrait", "--background warp", "--background still", "change: warp", "change: still")

SEAM_PORTRAIT = "portraits/deepface__img18.jpg"
SEAM_DRIVER = "videos/styletalk__nice_clip1.mp4"
SEAM_FRAMES = (30, 33, 36)
#: Seam tile side in portrait pixels (shown at 2x).
SEAM_SIDE = 200

YAWS = (30.0, 45.0, 60.0, 75.0)
#: A three-quarter painting and a driver that turns ~10 deg towards its far side.
REVEAL_PORTRAIT = "portraits/LivePortrait__s10.jpg"
REVEAL_DRIVER = "videos/video-retalking__3.mp4"
REVEAL_FRAMES = (15, 25, 50)


def _change(frame: np.ndarray, portrait: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 grey picture of ``|frame - portrait|``, max over RGB, times 3 (both HxWx3 uint8)."""
    d = np.clip(np.abs(frame.astype(np.int16) - portrait.astype(np.int16)).max(2) * 3, 0, 255).astype(np.uint8)
    return np.dstack([d] * 3)


def _widest_turn(engine, prepared, track) -> tuple[int, np.ndarray]:
    """The driver frame whose retargeted landmarks turn furthest (|yaw|), and those (478, 3) landmarks."""
    from reenactor.face.pose import euler_degrees, fit_similarity

    retarget = engine.retargeter(prepared, track)
    targets = [retarget(lm) for lm in track.landmarks]
    yaw = [euler_degrees(fit_similarity(prepared.crop_landmarks, t).rotation)[0] for t in targets]
    i = int(np.argmax(np.abs(yaw)))
    return i, targets[i]


def background(data: Path) -> np.ndarray:
    """docs/background.jpg: ``--background warp`` against ``--background still`` at the widest head turn.

    Each portrait is driven by the first 200 frames of one clip; the frame
    whose retargeted landmarks turn furthest is rendered with both modes. A row
    shows the portrait, both renders, and each render's change from the
    portrait (max over RGB, x3), over the square of the portrait the face crop
    covers; the first row is labelled.

    Returns:
        ``(256 * 3, 256 * 5, 3)`` uint8 RGB.
    """
    from reenactor.api import Reenactor

    modes = {m: Reenactor(config_with(render={"background": m})) for m in ("warp", "still")}
    frames, fps = read_clip(data, BACKGROUND_DRIVER, 200)
    track = modes["still"].track(frames, fps)
    rows = []
    for k, rel in enumerate(BACKGROUND_PORTRAITS):
        image = read_portrait(data, rel)
        prepared = {m: r.prepare(image) for m, r in modes.items()}
        i, target = _widest_turn(modes["still"], prepared["still"], track)
        out = {m: modes[m].render(prepared[m], target, track.mouths[i]) for m in modes}
        x0, y0, x1, y1 = prepared["still"].crop.image_roi(*prepared["still"].size)
        side = min(x1 - x0, y1 - y0)
        sx, sy = (x0 + x1) // 2 - side // 2, (y0 + y1) // 2 - side // 2
        box = (slice(sy, sy + side), slice(sx, sx + side))
        tiles = [image, out["warp"], out["still"], _change(out["warp"], image), _change(out["still"], image)]
        size = (BACKGROUND_TILE, BACKGROUND_TILE)
        tiles = [cv2.resize(np.ascontiguousarray(t[box]), size, interpolation=cv2.INTER_AREA) for t in tiles]
        if k == 0:
            tiles = [label(t, n) for t, n in zip(tiles, BACKGROUND_COLUMNS)]
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def _far_cheek(out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``SEAM_SIDE``-square box of ``out`` (HxWx3) whose left edge sits just outside the face, at 2x.

    ``target``: (478, 2+) landmarks in ``out``'s pixels. Returns (2 * SEAM_SIDE)-square uint8 RGB.
    """
    from reenactor.face import topology as T

    pts = target[list(T.face_oval()), :2]
    x0 = int(pts[:, 0].min()) - SEAM_SIDE // 8
    y0 = int(target[list(T.INNER_LIP_LOOP), 1].mean()) - SEAM_SIDE // 2
    h, w = out.shape[:2]
    x0, y0 = max(0, min(x0, w - SEAM_SIDE)), max(0, min(y0, h - SEAM_SIDE))
    tile = out[y0 : y0 + SEAM_SIDE, x0 : x0 + SEAM_SIDE]
    return cv2.resize(tile, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)


def seam(data: Path) -> np.ndarray:
    """docs/seam.jpg: the face outline of a turned head, displacements blended vs samples blended.

    Musk's photo (1200x1200) driven by styletalk "nice" at three frames of its
    turn, rendered at full resolution. Top row ``RenderConfig.seam_gap_full =
    0`` (the feather along the outline blends the two displacement fields);
    bottom row the default (it mixes the two samples where the fields part).
    Each tile is the far cheek, eye to chin, enlarged 2x without smoothing.

    Returns:
        ``(800, 1200, 3)`` uint8 RGB.
    """
    from reenactor.api import Reenactor

    portrait = read_portrait(data, SEAM_PORTRAIT)
    frames, fps = read_clip(data, SEAM_DRIVER, max(SEAM_FRAMES) + 1)
    default_gap = config_with().render.seam_gap_full
    rows = []
    for gap, text in ((0.0, "displacements blended"), (default_gap, "samples blended (default)")):
        engine = Reenactor(config_with(render={"seam_gap_full": gap}))
        prepared = engine.prepare(portrait)
        track = engine.track(frames, fps)
        retarget = engine.retargeter(prepared, track)
        tiles = []
        for t in SEAM_FRAMES:
            target = retarget(track.landmarks[t])
            out = engine.render(prepared, target, track.mouths[t], crop_output=False)
            tiles.append(label(_far_cheek(out, prepared.crop.to_image(target)), f"t={t} {text}", scale=0.45))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def yaw_limit(data: Path | None = None) -> np.ndarray:
    """docs/yaw_limit.jpg: a driver turning to 30, 45, 60 and 75 deg, without and with the yaw limit.

    The astronaut is driven by its own landmarks turned about the head centre
    (``data`` is not used). Top row ``RetargetConfig.max_yaw = 0`` (the turn
    transferred as it is); bottom row the default, where the turn is eased
    into ``max_yaw``. Tiles: the face crop's central 384 px, at 256.

    Returns:
        ``(512, 1024, 3)`` uint8 RGB.
    """
    from dataclasses import replace

    from skimage import data as skdata

    from reenactor.api import Reenactor
    from reenactor.face import topology as T
    from reenactor.face.pose import rotation_from_euler
    from reenactor.motion.retarget import Retargeter

    r = Reenactor()
    prepared = r.prepare(skdata.astronaut())
    p = prepared.crop_landmarks.astype(np.float64)
    centre = p[list(T.STABLE_POINTS)].mean(0)
    rows = []
    for limit, text in ((0.0, "no limit"), (r.config.retarget.max_yaw, "default")):
        retarget = Retargeter(p, p, replace(r.config.retarget, max_yaw=limit))
        tiles = []
        for yaw in YAWS:
            driver = (p - centre) @ rotation_from_euler(yaw, 0.0, 0.0).T + centre
            out = r.render(prepared, retarget(driver), None, crop_output=True)
            tile = cv2.resize(out[64:448, 64:448], (256, 256), interpolation=cv2.INTER_AREA)
            tiles.append(label(tile, f"driver {yaw:.0f} deg, {text}"))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def _face_tile(out: np.ndarray, target: np.ndarray, side: int = 256) -> np.ndarray:
    """The face of a rendered crop ``out`` (landmarks ``target``, crop px), square with a margin, at ``side`` px."""
    pts = target[:, :2]
    c, half = (pts.min(0) + pts.max(0)) / 2, 0.7 * float(np.ptp(pts, axis=0).max())
    x0, y0 = (int(max(0, v - half)) for v in c)
    tile = out[y0 : y0 + int(2 * half), x0 : x0 + int(2 * half)]
    return cv2.resize(tile, (side, side), interpolation=cv2.INTER_AREA)


def reveal_limit(data: Path) -> np.ndarray:
    """docs/reveal_limit.jpg: a three-quarter portrait turned back towards the camera, without and with the reveal limit.

    Vermeer's girl (turned ~33 deg) driven by a speaker who turns towards the
    girl's far side (~10 deg by dlib, 11-20 deg by the pipeline's tracker).
    Top row: the driver; middle row ``RetargetConfig.max_reveal = 0`` (the
    turn transferred as the tracker reads it); bottom row the default (at
    most 6 deg back).

    Returns:
        ``(3 * 256, 768, 3)`` uint8 RGB.
    """
    from reenactor.api import Reenactor

    portrait = read_portrait(data, REVEAL_PORTRAIT)
    frames, fps = read_clip(data, REVEAL_DRIVER, 60)
    rows = [np.hstack([label(fit_tile(frames[t], 256), f"driver t={t}") for t in REVEAL_FRAMES])]
    for limit, text in ((0.0, "no reveal limit"), (config_with().retarget.max_reveal, "default")):
        engine = Reenactor(config_with(retarget={"max_reveal": limit}))
        rows.append(render_row(engine, portrait, engine.track(frames, fps), REVEAL_FRAMES, _face_tile, text, (6, 18), 0.5))
    return np.vstack(rows)
