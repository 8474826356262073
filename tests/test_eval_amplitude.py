"""Fast tests of the expression-amplitude measurement (:mod:`reenactor.eval.amplitude`).

Synthetic dlib-68 landmark series with known channel motion; nothing reads ../shared.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_eval_regions import face_68 as regions_face_68

from reenactor.eval import amplitude as A

N = 41


def face_68() -> np.ndarray:
    """A frontal dlib-68 layout (pixel xy, IOD 60 px), lids 10 px and inner lips 6 px apart."""
    return regions_face_68(eye_gap=10.0, mouth_gap=6.0)


def signals(seed: int = 0) -> dict[str, np.ndarray]:
    """One ``(N,)`` signal per channel with median exactly 0 (a shuffled ramp from -1 to 1)."""
    rng = np.random.default_rng(seed)
    return {c: rng.permutation(np.linspace(-1.0, 1.0, N)) for c in A.CHANNELS}


def animate(sig: dict[str, np.ndarray], k: float, base: np.ndarray | None = None, px: float = 3.0) -> list[np.ndarray]:
    """Landmarks per frame moving each channel by ``k * px * sig[c][t]`` pixels (symmetric moves; IOD unchanged)."""
    base = face_68() if base is None else base
    out = []
    for t in range(N):
        lm = base.copy()
        a = {c: k * px * s[t] for c, s in sig.items()}
        lm[[61, 62, 63], 1] -= a["mouth_open"]
        lm[[65, 66, 67], 1] += a["mouth_open"]
        lm[48, 0] -= a["mouth_width"]
        lm[54, 0] += a["mouth_width"]
        lm[[48, 54], 1] -= a["lip_corner"]
        lm[[37, 38, 43, 44], 1] -= a["eye_open"]
        lm[[40, 41, 46, 47], 1] += a["eye_open"]
        lm[17:27, 1] -= a["brow_raise"]
        lm[[40, 41, 46, 47], 1] -= a["cheek_raise"]
        out.append(lm)
    return out


def moved(lms: list[np.ndarray], scale: float, angle_deg: float, shift: tuple[float, float]) -> list[np.ndarray]:
    """Every frame scaled, rolled and moved (a different face size and head pose in the picture)."""
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return [(lm - 128.0) @ rot.T * scale + 128.0 + np.array(shift) for lm in lms]


def test_channels_are_zero_change_for_a_still_face_and_respond_to_their_own_motion():
    still = A.channel_series([face_68()] * 10)
    for c in A.CHANNELS:
        assert np.allclose(still[c], 0.0)
    base = A.channels(face_68())
    for c in A.CHANNELS:
        sig = {x: np.zeros(N) for x in A.CHANNELS}
        sig[c] = np.linspace(-1, 1, N)
        top = A.channels(animate(sig, 1.0)[-1])
        assert top[c] > base[c] + 1e-3, c  # "up" is positive for every channel


@pytest.mark.parametrize("k", [0.5, 2.0, 1.0])
def test_known_gain_gives_that_ratio_on_every_channel(k):
    sig = signals()
    drv = A.channel_series(animate(sig, 1.0))
    out = A.channel_series(animate(sig, k))
    res = A.amplitude(out, drv)
    for c in A.CHANNELS:
        assert res[f"amp_{c}"] == pytest.approx(k, rel=0.02), c
        assert res[f"amp_slope_{c}"] == pytest.approx(k, rel=0.02), c
        assert res[f"below_corr_{c}"] == pytest.approx(1.0, abs=1e-6), c


def test_ratio_is_in_each_faces_own_units_and_ignores_roll_scale_and_position():
    sig = signals(1)
    drv = A.channel_series(animate(sig, 1.0))
    out = A.channel_series(moved(animate(sig, 0.5), scale=1.8, angle_deg=30.0, shift=(40.0, -25.0)))
    res = A.amplitude(out, drv)
    for c in A.CHANNELS:
        # 0.5x the pixel motion on a 1.8x larger face is 0.5 x 1.8 = 0.9x in pixels but 0.5x in the face's own units
        assert res[f"amp_{c}"] == pytest.approx(0.5, rel=0.02), c


def test_noise_only_driver_channel_is_skipped():
    sig = signals(2)
    rng = np.random.default_rng(5)
    sig_drv = dict(sig)
    sig_drv["brow_raise"] = rng.normal(0, 1e-3, N)  # ~0.003 px: dlib's noise would dominate
    drv = A.channel_series(animate(sig_drv, 1.0))
    out = A.channel_series(animate(sig, 1.0))
    noise = {c: 0.01 for c in A.CHANNELS}  # noise floor, channel units
    res = A.amplitude(out, drv, noise)
    assert math.isnan(res["amp_brow_raise"]) and math.isnan(res["below_corr_brow_raise"])
    assert res["ref_range_brow_raise"] < A.NOISE_FACTOR * 0.01
    assert res["amp_mouth_open"] == pytest.approx(1.0, rel=0.02)
    # the same series with a noise floor above the mouth's range: skipped as well
    res2 = A.amplitude(out, drv, {c: 10.0 for c in A.CHANNELS})
    assert all(math.isnan(res2[f"amp_{c}"]) for c in A.CHANNELS)


def test_an_output_that_does_not_follow_below_the_reference():
    sig = signals(3)
    drv = A.channel_series(animate(sig, 1.0))
    clipped = {c: np.maximum(s, 0.0) for c, s in sig.items()}  # follows openings, stays at the median below it
    out = A.channel_series(animate(clipped, 1.0))
    res = A.amplitude(out, drv)
    for c in ("mouth_open", "brow_raise"):
        assert abs(res[f"below_corr_{c}"]) < 0.2, c
        assert 0.3 < res[f"amp_{c}"] < 0.8, c  # half the range is missing


def test_static_output_has_ratio_zero_and_missing_faces_are_skipped():
    sig = signals(4)
    lms = animate(sig, 1.0)
    drv = A.channel_series(lms)
    static = A.channel_series([face_68()] * N)
    res = A.amplitude(static, drv)
    assert all(res[f"amp_{c}"] == 0.0 for c in A.CHANNELS)
    holes = A.channel_series([lm if t % 3 else None for t, lm in enumerate(lms)])
    assert np.isnan(holes["mouth_open"][0]) and np.isfinite(holes["mouth_open"][1])
    assert A.amplitude(holes, drv)["amp_mouth_open"] == pytest.approx(1.0, rel=0.1)


def test_spread_needs_enough_frames_and_summary_takes_medians():
    assert math.isnan(A.spread(np.arange(A.MIN_FRAMES - 1, dtype=float)))
    assert A.spread(np.linspace(0, 10, 101)) == pytest.approx(8.0)
    rows = [{"amp_mouth_open": 0.5}, {"amp_mouth_open": 1.0}, {"amp_mouth_open": 2.0}, {"amp_mouth_open": float("nan")}]
    s = A.summarize(rows)
    assert s["mouth_open"]["median"] == 1.0 and s["mouth_open"]["n"] == 3
    assert s["mouth_open"]["in_target"] == pytest.approx(1 / 3)
    assert s["brow_raise"]["n"] == 0 and math.isnan(s["brow_raise"]["median"])


def test_jittered_copies_are_small_moves():
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[20:40, 24:44] = 200
    copies = A.jittered(frame, (32.0, 30.0))
    assert len(copies) == len(A.JITTER_ROT) * len(A.JITTER_SCALE) * len(A.JITTER_SHIFTS)
    for c in copies:
        assert c.shape == frame.shape and c.dtype == np.uint8
        ys, xs = np.nonzero(c[..., 0] > 100)
        assert abs(xs.mean() - 33.5) < 2.0 and abs(ys.mean() - 29.5) < 2.0
