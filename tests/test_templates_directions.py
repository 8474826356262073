"""Fast tier: the built-in motions go through the learned map A (issue 17 item 1, placement).

:class:`~reenactor.motion.templates.ExpressionBasis` asks A
(:mod:`reenactor.motion.params`) for each control's change of the measured
channels in the portrait's own units (:data:`~reenactor.motion.templates.UNITS`);
here those changes are read back with :func:`~reenactor.motion.params.measure`
on the landmarks it draws. Measured on the astronaut: blink 1 leaves every lid
pair shut (gaps < 0.002 px), mouth_open 1 opens the inner lips by 0.4527 IOD
(asked 0.4527 = 0.46 mouth widths), smile 1 widens the mouth by 0.2559 and
lifts the corners by 0.0689 (asked 0.2559 / 0.0689), and every other channel
stays within 0.0004 IOD.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reenactor.face import topology as T
from reenactor.face.pose import euler_degrees, fit_similarity
from reenactor.motion.params import EXPRESSION_CHANNELS, load_directions, measure
from reenactor.motion.templates import FIELDS, UNITS, ExpressionBasis, MotionParams, template


def _change(prepared, target) -> dict[str, float]:
    base, got = measure(prepared.crop_landmarks), measure(target)
    return {k: got[k] - base[k] for k in EXPRESSION_CHANNELS}


def _gaps(lm, pairs) -> np.ndarray:
    from reenactor.face.pose import head_axes

    down = head_axes(lm)[:, 1]
    return np.array([(lm[lo] - lm[up]) @ down for up, lo in pairs])


@pytest.fixture(scope="module")
def basis(prepared):
    return ExpressionBasis(prepared.rig)


def test_a_full_blink_shuts_every_lid_pair(prepared, basis):
    closed = basis.landmarks(MotionParams(blink=1.0))
    for pairs in (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS):
        assert _gaps(prepared.crop_landmarks, pairs).min() > 1.0  # open at rest (pixels)
        assert np.abs(_gaps(closed, pairs)).max() < 0.05  # measured < 0.002 px
    half = _change(prepared, basis.landmarks(MotionParams(blink=0.5)))
    rest = measure(prepared.crop_landmarks)
    assert half["eye_r"] == pytest.approx(-0.5 * rest["eye_r"], rel=0.05)
    assert half["eye_l"] == pytest.approx(-0.5 * rest["eye_l"], rel=0.05)


@pytest.mark.parametrize("control, asked", [
    ("mouth_open", {"mouth_open": UNITS["mouth_gap"]}),
    ("smile", {"smile": UNITS["smile_width"], "corners": UNITS["smile_lift"]}),
])
def test_mouth_controls_move_their_channels_by_the_mapped_amount(prepared, basis, control, asked):
    width = measure(prepared.crop_landmarks)["smile"]  # mouth width, IOD units
    got = _change(prepared, basis.landmarks(MotionParams(**{control: 1.0})))
    for channel, per_width in asked.items():
        assert got[channel] == pytest.approx(per_width * width, rel=0.02), channel
    others = [abs(v) for k, v in got.items() if k not in asked]
    assert max(others) < 0.005  # measured < 0.0004 IOD


def test_brow_gaze_and_frown_follow_their_channels(prepared, basis):
    face = prepared.rig.proportions.face_length / measure(prepared.crop_landmarks)["size"]
    up = _change(prepared, basis.landmarks(MotionParams(brow=1.0)))
    assert up["brow"] == pytest.approx(UNITS["brow_raise"] * face, rel=0.03)
    down = _change(prepared, basis.landmarks(MotionParams(brow=-1.0)))
    assert down["brow"] == pytest.approx(-UNITS["brow_lower"] * face, rel=0.03)
    assert down["frown"] == pytest.approx(UNITS["frown"] * face, rel=0.03)  # inner ends closer
    eye_width = float(np.mean(prepared.rig.proportions.eye_width)) / measure(prepared.crop_landmarks)["size"]
    look = _change(prepared, basis.landmarks(MotionParams(gaze_x=1.0)))
    assert look["gaze_x"] == pytest.approx(UNITS["gaze_x"] * eye_width, rel=0.03)


def test_fields_do_not_move_the_head(prepared, basis):
    """The pose the pipeline fits on the stable points stays put: head motion is the angles' alone."""
    for i, name in enumerate(FIELDS):
        moved = prepared.crop_landmarks + basis.fields[i] @ prepared.rig.axes.T
        angles = euler_degrees(fit_similarity(prepared.crop_landmarks, moved).rotation)
        assert max(abs(a) for a in angles) < 0.01, name


def test_the_built_in_talk_opens_the_mouth_through_a(prepared, basis):
    frames = template("talk", 25.0)
    k = int(np.argmax([m.mouth_open for m in frames]))
    m = replace(frames[k], yaw=0.0, pitch=0.0, roll=0.0)
    width = measure(prepared.crop_landmarks)["smile"]
    got = _change(prepared, basis.landmarks(m))["mouth_open"]
    assert got == pytest.approx(m.mouth_open * UNITS["mouth_gap"] * width, rel=0.03)


def test_another_map_gives_other_landmarks(prepared, basis):
    """The template's landmarks come from A: change A's mouth direction, the drawn mouth changes."""
    shipped = load_directions()
    matrix = shipped.matrix.copy()
    matrix[0, T.CHIN, 1] += 0.5  # the mouth_open direction drops the chin further (no channel reads the chin)
    other = ExpressionBasis(prepared.rig, replace(shipped, matrix=matrix))
    frame = max(template("talk", 25.0), key=lambda m: m.mouth_open)
    a, b = basis.landmarks(frame), other.landmarks(frame)
    chin = (b - a)[T.CHIN] @ prepared.rig.axes[:, 1]
    assert chin > 0.2 * frame.mouth_open * measure(prepared.crop_landmarks)["size"]  # 0.5 IOD per unit, less the solve's share
    # Still solved against the portrait's response: the asked opening is kept.
    assert _change(prepared, b)["mouth_open"] == pytest.approx(_change(prepared, a)["mouth_open"], rel=0.03)
    assert np.array_equal(basis.landmarks(MotionParams(yaw=5.0)), other.landmarks(MotionParams(yaw=5.0)))


@pytest.mark.parametrize("asked", [MotionParams(brow=0.8), MotionParams(brow=-0.8), MotionParams(mouth_open=0.6),
                                   MotionParams(smile=0.6), MotionParams(gaze_x=0.8), MotionParams(blink=0.5)])
def test_a_still_driver_reads_back_the_controls_that_drew_it(prepared, basis, asked):
    """A still driver is measured in the same units as the controls draw (UNITS): the portrait
    drawn with some controls, taken as a still driver, gives those controls back (measured on the
    astronaut within 0.01; before the units were shared, brow 0.8 read 0.45 and -0.8 read -0.32)."""
    from reenactor.motion.templates import params_from_still

    got = params_from_still(basis.landmarks(asked), prepared.crop_landmarks)
    for name in ("brow", "mouth_open", "smile", "gaze_x", "blink"):
        assert getattr(got, name) == pytest.approx(getattr(asked, name), abs=0.05), name
