"""Temporal smoothing of driver landmark tracks (One-Euro, one or two passes)."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.config import SmoothingConfig
from reenactor.face.smooth import OneEuroFilter, smooth_track

FPS = 25.0
SCALE = 60.0  # pixels per face unit (an inter-ocular distance)


def _talking_track(n: int = 200, hz: float = 3.0, noise: float = 0.6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, 3) float32 track whose second point moves like a talking lip, and the clean signal (n,)."""
    t = np.arange(n) / FPS
    clean = 12.0 * np.sin(2 * np.pi * hz * t)  # pixels, ~0.2 face units
    rng = np.random.default_rng(seed)
    track = np.zeros((n, 2, 3), np.float32)
    track[:, 0] = (100.0, 100.0, 0.0)
    track[:, 1, 0] = 130.0
    track[:, 1, 1] = 160.0 + clean + rng.normal(0.0, noise, n)
    return track, clean


def _lag(signal: np.ndarray, clean: np.ndarray, hz: float = 3.0) -> float:
    """Delay (frames, fractional) of ``signal`` behind ``clean`` at ``hz``, from their phases."""
    e = np.exp(-2j * np.pi * hz * np.arange(len(clean)) / FPS)

    def phase(x: np.ndarray) -> float:
        return float(np.angle(np.sum((x - x.mean()) * e)))

    return (phase(clean) - phase(signal)) / (2 * np.pi * hz) * FPS


def test_still_track_stays_still():
    track = np.tile(np.array([[10.0, 20.0, -3.0], [40.0, 50.0, 1.0]], np.float32), (30, 1, 1))
    for two_pass in (False, True):
        out = smooth_track(track, FPS, SCALE, two_pass=two_pass)
        assert out.shape == track.shape and out.dtype == track.dtype
        np.testing.assert_allclose(out, track, atol=1e-4)


def test_one_pass_lags_behind_talking_motion_and_two_passes_do_not():
    track, clean = _talking_track()
    one = smooth_track(track, FPS, SCALE, SmoothingConfig(), two_pass=False)[:, 1, 1] - 160.0
    two = smooth_track(track, FPS, SCALE, SmoothingConfig(), two_pass=True)[:, 1, 1] - 160.0
    assert _lag(one, clean) > 0.15  # a quarter frame at these defaults
    assert abs(_lag(two, clean)) < 0.03
    # And the two-pass mean is closer to the clean motion than the lagging pass.
    assert np.abs(two - clean)[10:-10].mean() < 0.7 * np.abs(one - clean)[10:-10].mean()


def test_both_smooth_out_noise_on_a_still_face():
    track, _ = _talking_track(hz=0.0, noise=1.0, seed=1)
    raw = np.std(np.diff(track[:, 1, 1]))
    one = np.std(np.diff(smooth_track(track, FPS, SCALE, two_pass=False)[:, 1, 1]))
    two = np.std(np.diff(smooth_track(track, FPS, SCALE, two_pass=True)[:, 1, 1]))
    assert one < 0.8 * raw and two < one


def test_two_pass_is_symmetric_in_time():
    track, _ = _talking_track(n=80, seed=3)
    fwd = smooth_track(track, FPS, SCALE, two_pass=True)
    back = smooth_track(track[::-1].copy(), FPS, SCALE, two_pass=True)[::-1]
    np.testing.assert_allclose(fwd, back, atol=1e-4)


def test_filter_rejects_a_non_positive_frame_rate():
    with pytest.raises(ValueError, match="fps"):
        OneEuroFilter(0.0)


def test_smoothing_restarts_at_a_shot_cut():
    """A jump between two still shots: without the break both sides are dragged towards each
    other; with it every frame keeps its shot's position, and the segments are smoothed as
    if they were separate tracks."""
    track = np.zeros((40, 2, 3), np.float32)
    track[:, 0] = (100.0, 100.0, 0.0)
    track[:, 1] = (130.0, 160.0, 0.0)
    track[20:] += np.float32(25.0)  # the cut: the face is elsewhere from frame 20
    for two_pass in (False, True):
        across = smooth_track(track, FPS, SCALE, two_pass=two_pass)
        assert np.abs(across - track).max() > 2.0  # smoothed across the cut
        cut = smooth_track(track, FPS, SCALE, two_pass=two_pass, breaks=[20])
        np.testing.assert_allclose(cut, track, atol=1e-4)
    noisy, _ = _talking_track(n=60, seed=5)
    noisy[30:] += np.float32(40.0)
    both = smooth_track(noisy, FPS, SCALE, two_pass=True, breaks=[30, 0, 99])  # out-of-range breaks are ignored
    np.testing.assert_allclose(both[:30], smooth_track(noisy[:30].copy(), FPS, SCALE, two_pass=True), atol=1e-4)
    np.testing.assert_allclose(both[30:], smooth_track(noisy[30:].copy(), FPS, SCALE, two_pass=True), atol=1e-4)
