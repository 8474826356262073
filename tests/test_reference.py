"""Fast tier: the reference frame is chosen by matching the portrait (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.motion.reference import FaceState, match_distance, match_reference
from reenactor.motion.retarget import expression_metrics
from reenactor.motion.templates import MotionParams

#: Distinct driver states, each held for HOLD frames (a smooth motion would make
#: neighbouring frames as good a match as the portrait's own).
STATES = [
    MotionParams(),
    MotionParams(yaw=18.0),
    MotionParams(mouth_open=0.9),
    MotionParams(smile=1.0),
    MotionParams(pitch=-12.0, brow=0.8),
    MotionParams(blink=1.0),
    MotionParams(yaw=-15.0, mouth_open=0.4),
    MotionParams(roll=10.0, smile=0.6),
]
HOLD = 4


@pytest.fixture(scope="module")
def generated_driver(reenactor, prepared):
    """The astronaut rendered in each state of STATES (crops, 512x512 uint8 RGB)."""
    params = [s for s in STATES for _ in range(HOLD)]
    return list(reenactor.animate_params(prepared, params, crop_output=True))


@pytest.mark.parametrize("state", [2, 3, 6])
def test_a_portrait_that_is_frame_k_of_the_driver_picks_frame_k(reenactor, generated_driver, state):
    k = state * HOLD + 1
    portrait = reenactor.prepare(generated_driver[k])
    track = reenactor.track(generated_driver, 25.0, portrait=portrait)
    assert track.reference_rule == "match"
    # Any frame of the held state is the same picture; the smoothing filter
    # blends the first frame of a hold with the state before.
    assert state * HOLD <= track.reference < (state + 1) * HOLD, track.reference
    assert track.reference_distance < 2.0  # tracked and smoothed vs a still detection


def test_without_a_portrait_the_most_neutral_frame_is_taken(reenactor, generated_driver):
    track = reenactor.track(generated_driver, 25.0)
    assert (track.reference_rule, np.isnan(track.reference_distance)) == ("neutral", True)


def test_a_given_reference_frame_wins(reenactor, generated_driver, prepared):
    track = reenactor.track(generated_driver, 25.0, 9, portrait=prepared)
    assert (track.reference, track.reference_rule) == (9, "given")


def test_like_maps_to_like_across_faces(prepared):
    """A smiling portrait of another size and framing is matched to the smiling driver frame."""
    from reenactor.motion.templates import ExpressionBasis

    basis = ExpressionBasis(prepared.rig)
    driver = np.stack([basis.landmarks(s) for s in STATES])
    # The "portrait": smiling, another scale and position, in a larger picture.
    smile = basis.landmarks(MotionParams(smile=0.9))
    portrait = 0.6 * smile + np.array([700.0, 300.0, 0.0])
    choice = match_reference(driver, np.ones(len(STATES), bool), (512, 512), portrait, (1600, 1200))
    assert choice.index == 3
    # A slightly open, frontal, neutral mouth: the neutral state, not a turned or an open one.
    ajar = basis.landmarks(MotionParams(mouth_open=0.05))
    choice = match_reference(driver, np.ones(len(STATES), bool), (512, 512), 1.4 * ajar, (900, 900))
    assert choice.index == 0
    assert expression_metrics(driver[0])["mouth_open"] < expression_metrics(1.4 * ajar)["mouth_open"]


def test_match_distance_is_zero_for_equal_states_and_grows_with_expression(prepared):
    a = FaceState.measure(prepared.crop_landmarks, (512, 512))
    assert match_distance(a, a) == 0.0
    from reenactor.motion.templates import ExpressionBasis

    basis = ExpressionBasis(prepared.rig)
    d = [match_distance(a, FaceState.measure(basis.landmarks(MotionParams(mouth_open=m)), (512, 512))) for m in (0.2, 0.5, 1.0)]
    assert d[0] < d[1] < d[2]
