"""Fast tier: the driver is tracked through temporary files, frame by frame (issue 15), with the
same landmarks and reference as over whole arrays in memory, and the files are removed."""

from __future__ import annotations

import gc
import os
import tempfile
from dataclasses import replace

import numpy as np
import pytest

from reenactor import framefile
from reenactor.api import Reenactor
from reenactor.errors import NoFaceError
from reenactor.face import cuts
from reenactor.face.landmarks import LandmarkDetector
from reenactor.face.smooth import smooth_frames, smooth_track
from reenactor.face.topology import inter_ocular
from reenactor.motion.reference import FaceState, match_distance
from reenactor.motion.retarget import choose_reference
from reenactor.motion.templates import MotionParams
from reenactor.pipeline import ListSink, TrackedSource, run
from reenactor.tracking import fill_lost

STATES = [MotionParams(), MotionParams(yaw=15.0, mouth_open=0.6), MotionParams(blink=1.0),
          MotionParams(smile=0.9), MotionParams(pitch=-10.0, brow=0.7), MotionParams(roll=8.0)]
HOLD = 3
#: Frames without a face: before the first face, and a gap the track blends back from.
BLANK = (0, 1, 9, 10)


@pytest.fixture(scope="module")
def frames(reenactor, prepared):
    """The astronaut's crop in each state of STATES, grey frames at BLANK (512x512 uint8 RGB)."""
    out = list(reenactor.animate_params(prepared, [s for s in STATES for _ in range(HOLD)], crop_output=True))
    for i in BLANK:
        out.insert(i, np.full_like(out[0], 128))
    return out


@pytest.fixture
def chunk(monkeypatch):
    """Small read chunks, so that passes cross chunk boundaries."""
    monkeypatch.setattr(framefile, "CHUNK", 5)


def _in_memory(r: Reenactor, frames, portrait):
    """The track over whole arrays: landmarks (F, 478, 3), detected (F, 478, 3) NaN where lost, reference."""
    thumbs = [cuts.thumbnail(f) for f in frames]
    diffs = np.array([np.nan] + [cuts.frame_difference(a, b) for a, b in zip(thumbs, thumbs[1:])])
    raw = []
    with LandmarkDetector(static_image_mode=False, config=r.config.detection) as det:
        for t, f in enumerate(frames):
            if t and cuts.likely_cut(diffs[t], diffs[max(0, t - cuts.WINDOW):t]):
                det.new_shot()
            raw.append(det.detect(f))
    filled, found = fill_lost(raw, r.config.smoothing.lost_blend_frames)
    iod = float(np.median([inter_ocular(filled[i]) for i in np.flatnonzero(found)]))
    smoothed = smooth_track(filled, 25.0, max(iod, 1.0), r.config.smoothing, r.config.smoothing.two_pass,
                            cuts.find_cuts(diffs))
    detected = np.stack([lm if lm is not None else np.full((478, 3), np.nan, np.float32) for lm in raw])
    idx = np.flatnonzero(found)
    if portrait is None:
        return smoothed, detected, choose_reference(smoothed, found), float("nan")
    target = FaceState.measure(portrait.landmarks, portrait.size)
    states = [FaceState.measure(smoothed[i], frames[0].shape[1::-1]) for i in idx]
    eyes = np.array([s.expression["eye_open"] for s in states])
    dist = np.array([match_distance(target, s) for s in states])
    shut = eyes < 0.7 * np.median(eyes)
    if target.expression["eye_open"] >= 0.7 * np.median(eyes) and not shut.all():
        dist[shut] = np.inf
    return smoothed, detected, int(idx[np.argmin(dist)]), float(dist.min())


@pytest.mark.parametrize("two_pass", [True, False])
@pytest.mark.parametrize("match", [True, False])
def test_streamed_track_equals_the_whole_array_computation(reenactor, prepared, frames, chunk, two_pass, match):
    cfg = reenactor.config
    r = Reenactor(replace(cfg, smoothing=replace(cfg.smoothing, two_pass=two_pass)))
    portrait = prepared if match else None
    track = r.track(frames, 25.0, portrait=portrait, keep_mouths=False)
    smoothed, detected, ref, dist = _in_memory(r, frames, portrait)
    assert isinstance(track.landmarks, framefile.FrameFile) and track.landmarks.dtype == np.float32
    assert np.array_equal(np.asarray(track.landmarks), smoothed)
    assert np.array_equal(np.stack(list(track.landmarks)), smoothed)
    assert np.array_equal(np.asarray(track.raw), detected, equal_nan=True)
    assert list(np.flatnonzero(~track.found)) == list(BLANK)
    assert track.reference == ref and np.array_equal(track.reference_distance, dist, equal_nan=True)
    assert track.reference_rule == ("match" if match else "neutral")
    assert track.cuts == tuple(cuts.find_cuts(np.array([np.nan] + [cuts.frame_difference(cuts.thumbnail(a), cuts.thumbnail(b))
                                                                    for a, b in zip(frames, frames[1:])])))
    track.close()


def test_smooth_frames_from_files_equals_smooth_track(chunk):
    rng = np.random.default_rng(3)
    track = (200.0 + 40.0 * rng.normal(size=(23, 478, 3))).astype(np.float32)
    for two_pass in (True, False):
        store = framefile.TrackStore()
        src = store.file("in", (478, 3), np.float32)
        for x in track:
            src.append(x)
        out = store.file("out", (478, 3), np.float32, len(track))
        scratch = store.file("fwd", (478, 3), np.float64, len(track))
        smooth_frames(src, out, 25.0, 57.0, None, two_pass, scratch)
        assert np.array_equal(np.asarray(out), smooth_track(track, 25.0, 57.0, None, two_pass))
        assert np.array_equal(np.stack(list(reversed(src))), track[::-1])
        assert np.array_equal(src[-2], track[-2]) and np.array_equal(src[3:17:4], track[3:17:4])
        store.close()


@pytest.fixture
def tmp_root(tmp_path, monkeypatch):
    """``tempfile``'s directory for the test: where the track's files go."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


class _Sink(ListSink):
    """A list sink that sees the track's files while rendering and can fail at frame ``fail_at``."""

    def __init__(self, root, fail_at=None):
        super().__init__()
        self.root, self.fail_at, self.seen = root, fail_at, set()

    def write(self, frame):
        self.seen.update(p.name for p in self.root.iterdir())
        if len(self.frames) == self.fail_at:
            raise RuntimeError("sink failed")
        super().write(frame)


def test_the_track_files_are_removed_after_a_run_and_after_an_error(reenactor, prepared, frames, tmp_root):
    sink = _Sink(tmp_root)
    run(reenactor, prepared, TrackedSource(frames, 25.0, reread=lambda: iter(frames)), sink)
    assert len(sink.frames) == len(frames) and any(n.startswith("reenactor-track-") for n in sink.seen)
    assert list(tmp_root.iterdir()) == []
    with pytest.raises(RuntimeError, match="sink failed"):
        run(reenactor, prepared, TrackedSource(frames, 25.0, reread=lambda: iter(frames)), _Sink(tmp_root, 3))
    assert list(tmp_root.iterdir()) == []
    with pytest.raises(NoFaceError):
        run(reenactor, prepared, TrackedSource([frames[0]] * 3, 25.0, reread=lambda: iter([frames[0]] * 3)), ListSink())
    assert list(tmp_root.iterdir()) == []


def test_a_library_track_keeps_its_files_until_closed_or_collected(reenactor, frames, tmp_root):
    track = reenactor.track(frames[:8], 25.0)
    assert len(list(tmp_root.iterdir())) == 1 and len(track.landmarks) == 8
    assert track.landmarks[-1].shape == (478, 3)
    track.close()
    assert list(tmp_root.iterdir()) == []
    track = reenactor.track(frames[:8], 25.0)
    del track
    gc.collect()
    assert list(tmp_root.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="open files cannot be unlinked elsewhere")
def test_frame_files_have_no_name_while_open(tmp_root):
    """A process killed while tracking leaves no frame data behind: the files are nameless once open."""
    store = framefile.TrackStore()
    f = store.file("landmarks", (478, 3), np.float32)
    f.append(np.ones((478, 3), np.float32))
    assert os.listdir(store.path) == [] and np.array_equal(f[0], np.ones((478, 3), np.float32))
    store.close()
    assert list(tmp_root.iterdir()) == []
