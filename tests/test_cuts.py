"""Shot cuts in a driving video (reenactor.face.cuts) and the driver track that restarts its smoothing there."""

from __future__ import annotations

import numpy as np

from reenactor.face import cuts


def test_find_cuts_needs_a_jump_above_its_neighbours():
    calm = np.full(30, 1.0)
    calm[0] = np.nan
    assert cuts.find_cuts(calm) == []
    one = calm.copy()
    one[12] = 20.0
    assert cuts.find_cuts(one) == [12]
    small = calm.copy()
    small[12] = cuts.MIN_DIFF - 0.5  # large against its neighbours but below the floor
    assert cuts.find_cuts(small) == []
    busy = np.full(30, 8.0)  # fast motion all along: differences high everywhere
    busy[12] = 20.0
    assert cuts.find_cuts(busy) == []
    first = calm.copy()
    first[1] = 15.0  # a cut right after the first frame (the shared clip LivePortrait d20)
    assert cuts.find_cuts(first) == [1]
    assert cuts.find_cuts(np.array([np.nan])) == []


def test_thumbnail_difference_of_two_pictures():
    a = np.zeros((120, 160, 3), np.uint8)
    a[:, :, :] = np.linspace(0, 255, 160).astype(np.uint8)[None, :, None]  # a left-to-right ramp
    ta = cuts.thumbnail(a)
    assert ta.shape == (cuts.THUMB, cuts.THUMB) and ta.dtype == np.float32
    assert cuts.frame_difference(ta, ta) == 0.0
    assert cuts.frame_difference(ta, cuts.thumbnail(255 - a)) > 50.0


def test_driver_track_restarts_smoothing_at_a_cut(astronaut):
    """Two shots of the astronaut, the second shifted: the track reports the cut and its
    smoothed landmarks equal the two shots' raw detections (nothing dragged across)."""
    from reenactor.config import ReenactorConfig
    from reenactor.tracking import track_driver

    img = np.ascontiguousarray(astronaut[:448, 32:480])
    shifted = np.ascontiguousarray(np.roll(img, (24, -30), axis=(0, 1)))
    frames = [img] * 6 + [shifted] * 6
    track = track_driver(iter(frames), 25.0, ReenactorConfig(), reference_frame=0)
    try:
        assert track.cuts == (6,)
        lm = np.asarray(track.landmarks)
        raw = np.asarray(track.raw) if track.raw is not None else None
        # a still shot stays where it is detected on both sides of the cut
        # (the tracker's own detections of one still frame settle by up to ~2 px over its first frames)
        assert np.abs(lm[5, :, :2] - lm[0, :, :2]).mean() < 1.0
        assert np.abs(lm[6, :, :2] - lm[11, :, :2]).mean() < 1.0
        move = (lm[6, :, :2] - lm[5, :, :2]).mean(0)
        np.testing.assert_allclose(move, (-30.0, 24.0), atol=2.0)
        assert raw is None or raw.shape == lm.shape
    finally:
        track.close()


def test_likely_cut_is_the_causal_rule():
    assert cuts.likely_cut(20.0, np.array([1.0, 1.2, np.nan]))
    assert cuts.likely_cut(20.0, np.array([]))
    assert not cuts.likely_cut(20.0, np.array([8.0, 9.0, 7.0]))
    assert not cuts.likely_cut(cuts.MIN_DIFF - 0.1, np.array([0.0]))
