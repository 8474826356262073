"""Every entry path goes through the one frame loop and draws the same frames for the same input."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.api import animate_template
from reenactor.io.video import iter_frames
from reenactor.motion.templates import template
from reenactor.pipeline import ListSink, LiveSource, MotionSource, TrackedSource, run, video_source


@pytest.fixture(scope="module")
def driver(tmp_path_factory, reenactor, prepared):
    path = tmp_path_factory.mktemp("paths") / "driver.mp4"
    animate_template(reenactor, prepared, "talk", path, fps=25, max_frames=12)
    return path


def _run(reenactor, prepared, source, crop=False):
    sink = ListSink()
    stats = run(reenactor, prepared, source, sink, crop_output=crop)
    assert stats["frames"] == len(sink.frames)
    return sink.frames


def test_file_and_memory_drivers_give_the_same_frames(reenactor, prepared, astronaut, driver):
    from_file = _run(reenactor, prepared, video_source(driver))
    frames = list(iter_frames(driver))
    in_memory = reenactor.animate_frames(astronaut, frames, fps=25)
    tracked = _run(reenactor, prepared, TrackedSource(frames, 25.0))
    assert len(from_file) == len(in_memory) == len(tracked) == 12
    for a, b, c in zip(from_file, in_memory, tracked):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_motion_source_equals_animate_params(reenactor, prepared):
    params = template("blink", 25.0)[:6]
    direct = list(reenactor.animate_params(prepared, params, crop_output=True))
    looped = _run(reenactor, prepared, MotionSource("blink", 25.0, 6), crop=True)
    assert all(np.array_equal(a, b) for a, b in zip(direct, looped)) and len(looped) == 6


def test_live_session_equals_the_live_source(reenactor, prepared, driver):
    frames = list(iter_frames(driver))[:6]
    session = reenactor.session(prepared, fps=25)
    stepped = [session.step(f) for f in frames]
    session.close()
    source = LiveSource(frames, fps=25)
    looped = _run(reenactor, prepared, source)
    source.close()
    assert all(np.array_equal(a[: b.shape[0], : b.shape[1]], b) for a, b in zip(stepped, looped))
