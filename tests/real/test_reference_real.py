"""Real tier: the automatic reference frame on real clips (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.io.video import iter_frames, probe_video
from reenactor.motion.reference import FaceState, match_distance

pytestmark = pytest.mark.real

#: Dev-half self clips (head-tracked crops, HDTF, VoxCeleb in the wild).
SELF_CLIPS = [
    "videos/dreamtalk__W009_front_surprised_level3_001.mp4",
    "videos/styletalk__furious_talk2_clip6.mp4",
    "videos/LIA__driving2.mp4",
    "videos/SadTalker__WDA_KatieHill_000.mp4",
]
FRAMES = 60


@pytest.mark.parametrize("clip", SELF_CLIPS, ids=[c.split("/")[1] for c in SELF_CLIPS])
def test_a_portrait_taken_from_the_driver_gets_its_own_frame(shared_data, reenactor, clip):
    """Self reenactment: the portrait is frame 0, so the automatic reference is frame 0.

    Measured: distance 0.17-0.33 at frame 0 (still vs tracked and smoothed
    landmarks), 1.0-2.1 at the next best frame; the old "most neutral" rule
    picked frames 54, 71, 24 and 93. LIA driving2 starts mid-blink: a
    portrait with shut eyes may take a blink frame.
    """
    path = shared_data / clip
    frames = list(iter_frames(path, FRAMES, what="driver"))
    portrait = reenactor.prepare(frames[0])
    track = reenactor.track(frames, probe_video(path).fps, portrait=portrait)
    assert (track.reference, track.reference_rule) == (0, "match")
    state = FaceState.measure(portrait.landmarks, portrait.size)
    d = sorted(match_distance(state, FaceState.measure(track.landmarks[i], portrait.size)) for i in range(len(frames)))
    assert d[0] < 0.5 and 2 * d[0] < d[1]
