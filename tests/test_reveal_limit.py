"""The reveal limit (``RetargetConfig.max_reveal``): a turned portrait turns back towards the camera only so far.

A turned portrait shows its far side squeezed and cut at the outline (eye
corner, lip corner); turning it back stretches that strip into ghosts
(session 20: Vermeer's girl, turned 33 deg, turned back to 14 deg by a driver
that turns ~10 deg). :func:`reenactor.motion.controls.ease_yaw` eases the turn
back, the harder the more the portrait is turned; turning further away is left
to ``max_yaw``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import turned

from reenactor.config import RetargetConfig
from reenactor.motion.controls import REVEAL_FADE, ease_yaw, reveal_bound

MAX_YAW = RetargetConfig().max_yaw
REVEAL = RetargetConfig().max_reveal


def test_a_frontal_portrait_keeps_the_yaw_limit_alone():
    """Below the fade (|own| <= 10 deg) only max_yaw acts, symmetric both ways."""
    for own in (0.0, 5.0, -REVEAL_FADE[0]):
        for yaw in np.linspace(-80, 80, 33):
            knee = max(MAX_YAW - 10.0, abs(own))
            want = yaw if abs(yaw) <= knee else np.sign(yaw) * (knee + 10.0 * np.tanh((abs(yaw) - knee) / 10.0))
            assert ease_yaw(yaw, own, MAX_YAW, REVEAL) == pytest.approx(want, abs=1e-12)


def test_the_bound_falls_from_the_yaw_knee_to_the_limit():
    assert reveal_bound(0.0, MAX_YAW, REVEAL) == MAX_YAW - 10.0
    assert reveal_bound(15.0, MAX_YAW, REVEAL) == MAX_YAW - 10.0
    assert reveal_bound(-18.0, MAX_YAW, REVEAL) == pytest.approx(MAX_YAW - 16.0)  # past frontal
    assert reveal_bound(33.0, MAX_YAW, REVEAL) == REVEAL
    assert reveal_bound(60.0, MAX_YAW, REVEAL) == REVEAL


@pytest.mark.parametrize("own", [33.0, -33.0, 18.0, 25.0, -47.0])
def test_a_turned_portrait_turns_back_by_at_most_its_bound(own):
    side, bound = np.sign(own), reveal_bound(own, MAX_YAW, REVEAL)
    for back in (2.0, 5.0, 10.0, 20.0, 40.0, 80.0):
        got = ease_yaw(own - side * back, own, MAX_YAW, REVEAL)
        turned_back = abs(own) - side * got
        assert 0.0 < turned_back < bound + 1e-9
        assert turned_back <= back + 1e-12
        if back <= bound - 5.0:
            assert turned_back == pytest.approx(back)
    # At rest: untouched; turning further away: only max_yaw (here below its knee for |own| <= 35).
    assert ease_yaw(own, own, MAX_YAW, REVEAL) == own
    away = own + side * 3.0
    assert ease_yaw(away, own, MAX_YAW, REVEAL) == pytest.approx(ease_yaw(away, own, MAX_YAW, 0.0))


def test_the_easing_is_monotone_and_continuous():
    yaws = np.linspace(-90, 90, 721)
    for own in (-40.0, -18.0, -10.0, 0.0, 12.0, 17.5, 25.0, 33.0, 60.0):
        out = np.array([ease_yaw(y, own, MAX_YAW, REVEAL) for y in yaws])
        assert np.all(np.diff(out) >= -1e-9)
        assert np.max(np.abs(np.diff(out))) < 0.26  # steps of 0.25 deg in, never a jump out
    # Continuous in the portrait's own yaw across the fade.
    for y in (-30.0, -5.0, 0.0):
        vals = [ease_yaw(y, own, MAX_YAW, REVEAL) for own in np.linspace(8, 27, 191)]
        assert np.max(np.abs(np.diff(vals))) < 0.5


def test_zero_disables_both_limits():
    for own in (0.0, 33.0):
        for yaw in (-70.0, -10.0, 20.0, 70.0):
            assert ease_yaw(yaw, own, 0.0, 0.0) == yaw


def test_the_retargeter_keeps_a_turned_portrait_from_turning_back(prepared):
    """A portrait turned 33 deg, a driver that turns 20 deg towards its far side."""
    from reenactor.face.pose import head_pose
    from reenactor.motion.retarget import Retargeter

    base = prepared.crop_landmarks.astype(np.float64)
    portrait = turned(base, 33.0 - head_pose(base)[0])
    own = head_pose(portrait)[0]
    assert own == pytest.approx(33.0, abs=1.0)
    driver_ref, driver = base, turned(base, -20.0)
    limited = head_pose(Retargeter(portrait, driver_ref, RetargetConfig())(driver))[0]
    free = head_pose(Retargeter(portrait, driver_ref, replace(RetargetConfig(), max_reveal=0.0))(driver))[0]
    # Measured on the astronaut (own 33.6): free 13.2 deg (20.4 back), limited 27.6 (6.0 back).
    assert free < own - 15.0
    assert own - REVEAL - 1.0 < limited < own
    # Turning the other way (away from the camera) is not limited by it.
    away = Retargeter(portrait, driver_ref, RetargetConfig())(turned(base, 5.0))
    away_free = Retargeter(portrait, driver_ref, replace(RetargetConfig(), max_reveal=0.0))(turned(base, 5.0))
    np.testing.assert_allclose(away, away_free, atol=1e-9)


def test_built_in_motions_are_eased_too():
    """control_params with the portrait's own yaw: a template's turn back is held as a driver's is."""
    from reenactor.motion.controls import control_params
    from reenactor.motion.templates import MotionParams

    cfg = RetargetConfig()
    back = MotionParams(yaw=-20.0)
    assert control_params(cfg)(back).yaw == -20.0  # without the portrait's yaw: unchanged
    assert control_params(cfg, own_yaw=0.0)(back).yaw == pytest.approx(-20.0)  # frontal: unchanged
    held = control_params(cfg, own_yaw=33.0)(back).yaw
    assert -REVEAL < held < -REVEAL + 1.0  # measured -5.99
    assert control_params(cfg, own_yaw=33.0)(MotionParams(yaw=2.0)).yaw == pytest.approx(2.0)  # away: below max_yaw's knee
    assert control_params(replace(cfg, max_reveal=0.0, max_yaw=0.0), own_yaw=33.0)(back).yaw == -20.0


def test_a_turned_portrait_shaking_its_head_is_held(prepared):
    """The built-in "shake" on the astronaut turned 33 deg: its turn back stays within the bound."""
    from reenactor.face.pose import head_pose
    from reenactor.motion.controls import control_params
    from reenactor.motion.retarget import PortraitRig
    from reenactor.motion.templates import ExpressionBasis, template

    base = prepared.crop_landmarks.astype(np.float64)
    rig = PortraitRig(turned(base, 33.0 - head_pose(base)[0]))
    basis, control = ExpressionBasis(rig), control_params(RetargetConfig(), own_yaw=rig.yaw)
    yaws = [head_pose(basis.landmarks(control(m)))[0] for m in template("shake", 25.0)]
    free = [head_pose(basis.landmarks(m))[0] for m in template("shake", 25.0)]
    assert rig.yaw - min(free) > 20.0
    assert rig.yaw - min(yaws) < REVEAL + 1.5  # measured 6.1 (55.9 -> 44.9 the other way: max_yaw); free: 22.4
