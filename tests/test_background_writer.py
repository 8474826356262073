"""The encoding thread: order, errors, abort."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.io.background import BackgroundWriter


def test_frames_arrive_in_order():
    got = []
    with BackgroundWriter(lambda f: got.append(int(f[0, 0, 0])), depth=2) as w:
        for i in range(50):
            w.put(np.full((2, 2, 3), i, np.uint8))
    assert got == list(range(50))


def test_worker_error_reaches_the_caller():
    def write(frame):
        if frame[0, 0, 0] == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with BackgroundWriter(write, depth=1) as w:
            for i in range(20):
                w.put(np.full((2, 2, 3), i, np.uint8))


def test_abort_drops_queued_frames():
    got = []
    with pytest.raises(KeyboardInterrupt):
        with BackgroundWriter(got.append, depth=8) as w:
            w.put(np.zeros((2, 2, 3), np.uint8))
            raise KeyboardInterrupt
    assert len(got) <= 1
