"""Fast tier: the driver's motion arrives whole (issue 13): below the reference, and head translation.

Drivers are generated from the astronaut (no ../shared): rendered expressions,
or the astronaut picture moved across a canvas. Outputs are re-detected with
the pipeline's own landmark detector.
"""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.face import topology as T
from reenactor.face.landmarks import LandmarkDetector
from reenactor.motion.retarget import expression_metrics
from reenactor.motion.templates import MotionParams

HOLD = 4


def _held(reenactor, prepared, states):
    params = [s for s in states for _ in range(HOLD)]
    return list(reenactor.animate_params(prepared, params, crop_output=True))


def _redetect(frame: np.ndarray) -> np.ndarray:
    with LandmarkDetector(static_image_mode=True) as det:
        lm = det.detect(frame)
    assert lm is not None
    return lm


def test_a_driver_closing_its_mouth_below_the_reference_closes_the_portraits(reenactor, prepared):
    """The portrait's mouth is open; the driver's closes further than its reference: so must the portrait's."""
    states = [MotionParams(mouth_open=0.3), MotionParams(mouth_open=0.9), MotionParams(mouth_open=0.5), MotionParams()]
    driver = _held(reenactor, prepared, states)
    # The portrait: the astronaut with the mouth open (a still of another session).
    portrait = reenactor.prepare(reenactor.render(prepared, prepared.rig.landmarks * 0 + _open(prepared, 0.6), None, crop_output=True))
    track = reenactor.track(driver, 25.0, portrait=portrait)
    assert 2 * HOLD <= track.reference < 3 * HOLD  # matched to the driver's half-open state
    rt = reenactor.retargeter(portrait, track)
    open_p = expression_metrics(portrait.crop_landmarks)["mouth_open"]
    closed_t = len(driver) - 1  # the driver's own closed mouth, below its reference
    target = rt(track.landmarks[closed_t])
    rest = expression_metrics(prepared.crop_landmarks)["mouth_open"]  # the astronaut's lips part a little at rest
    assert rest < 0.5 * open_p
    assert expression_metrics(target)["mouth_open"] < rest + 0.03
    # And the rendered picture shows it closing (re-detected).
    out = reenactor.render(portrait, target, track.mouths[closed_t], crop_output=True)
    assert expression_metrics(_redetect(out))["mouth_open"] < rest + 0.05
    # Wider than the reference opens it further.
    wider = expression_metrics(rt(track.landmarks[HOLD + HOLD // 2]))["mouth_open"]
    assert wider > 1.3 * open_p


def _open(prepared, amount: float) -> np.ndarray:
    from reenactor.motion.templates import ExpressionBasis

    return ExpressionBasis(prepared.rig).landmarks(MotionParams(mouth_open=amount))


def _moving_astronaut(astronaut: np.ndarray, shifts: list[tuple[int, int]], scale: float) -> list[np.ndarray]:
    """The astronaut scaled by ``scale`` and pasted at ``shifts`` (x, y) on a grey 640x640 canvas."""
    import cv2

    small = cv2.resize(astronaut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frames = []
    for dx, dy in shifts:
        canvas = np.full((640, 640, 3), 128, np.uint8)
        y0, x0 = 40 + dy, 40 + dx
        canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        frames.append(canvas)
    return frames


def _head_centre(lm: np.ndarray) -> np.ndarray:
    return lm[list(T.STABLE_POINTS), :2].mean(0)


@pytest.mark.parametrize("driver_scale", [0.9, 1.1])
def test_a_translating_driver_moves_the_portraits_head_by_the_scaled_amount(reenactor, prepared, astronaut, driver_scale):
    """Driver head moves by (dx, dy) driver pixels: the portrait's by that times portrait/driver face size."""
    shifts = [(0, 0)] * 6 + [(k * 4, k * 2) for k in range(1, 9)] + [(32, 16)] * 6
    driver = _moving_astronaut(astronaut, shifts, driver_scale)
    track = reenactor.track(driver, 25.0, 0, portrait=prepared)
    rt = reenactor.retargeter(prepared, track)
    target = rt(track.landmarks[-1])
    out = reenactor.render(prepared, target, track.mouths[-1], crop_output=False)
    moved = _head_centre(_redetect(out)) - _head_centre(_redetect(astronaut))
    expected = np.array([32.0, 16.0]) / driver_scale  # the portrait's face is 1/driver_scale times the driver's
    # Measured: the re-detected head centre lands within 0.15 px of the
    # expected motion (35.5/17.9 vs 35.6/17.8 px at 0.9, 29.06/14.55 vs
    # 29.09/14.55 at 1.1); a translation gain of 0.95 would miss by ~2 px.
    np.testing.assert_allclose(moved, expected, atol=1.0)


def test_a_small_face_in_a_large_picture_moves_as_much_as_a_large_one(reenactor, prepared, astronaut):
    """The astronaut at 0.4 size in a 1600 px picture, driven like the full-size one: same motion relative to its size."""
    import cv2

    from reenactor.face.pose import fit_similarity

    states = [MotionParams(), MotionParams(yaw=15.0, mouth_open=0.8), MotionParams(pitch=-10.0, smile=1.0)]
    driver = _held(reenactor, prepared, states)
    small = cv2.resize(astronaut, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1600, 3), 90, np.uint8)
    canvas[700 : 700 + small.shape[0], 300 : 300 + small.shape[1]] = small
    big = prepared
    little = reenactor.prepare(canvas)
    measures = []
    for portrait in (big, little):
        track = reenactor.track(driver, 25.0, 0, portrait=portrait)
        rt = reenactor.retargeter(portrait, track)
        for t in (HOLD + 2, 2 * HOLD + 2):
            out = reenactor.render(portrait, rt(track.landmarks[t]), track.mouths[t], crop_output=True)
            lm = _redetect(out)
            rest = portrait.crop_landmarks
            sim = fit_similarity(rest, lm)
            m = expression_metrics(lm)
            measures.append((np.degrees(np.arccos(np.clip((np.trace(sim.rotation) - 1) / 2, -1, 1))), m["mouth_open"], m["mouth_width"]))
    big_m, little_m = np.array(measures[:2]), np.array(measures[2:])
    # Measured (expression gain 1): rotation 10.6/7.9 deg (large) vs 9.3/8.2
    # (small), mouth open 0.242/0.091 vs 0.254/0.085 IOD, width 0.727/0.821
    # vs 0.695/0.793; with the gain of 1.3 the mouth opening differs by 16 %. The
    # small face is found by the tiled detection pass (on the whole picture
    # mediapipe's detectors miss it).
    np.testing.assert_allclose(little_m[:, 0], big_m[:, 0], atol=2.0)
    np.testing.assert_allclose(little_m[:, 1:], big_m[:, 1:], rtol=0.2, atol=0.01)
