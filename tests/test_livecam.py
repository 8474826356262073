"""Fast tier: ``reenactor live`` (issue 17 item 5) on a generated clip played as a camera.

No assertion here is on absolute speed: the figures are checked for
consistency (shown + dropped == captured, positive latencies), and the slow
renderer's latency bound is relative to its own measured per-frame time.
"""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
import pytest

from reenactor.cli import main
from reenactor.io.image import write_image
from reenactor.io.video import probe_video
from reenactor.livecam import FrameSlot, open_capture, run_live

CLIP_FRAMES = 30


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut, reenactor, prepared):
    from reenactor.api import animate_template

    d = tmp_path_factory.mktemp("live")
    portrait = d / "astronaut.png"
    write_image(portrait, astronaut)
    clip = d / "talk.mp4"  # the astronaut talking, 512x512 crop, 25 fps: the "camera"
    animate_template(reenactor, prepared, "talk", clip, fps=25, max_frames=CLIP_FRAMES, crop_output=True)
    return {"portrait": portrait, "clip": clip, "dir": d}


def _one_line_error(capsys, rc: int) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("reenactor: error: "), err
    return lines[0]


def test_frame_slot_keeps_only_the_newest():
    slot = FrameSlot()
    for i in range(3):
        slot.put(np.full((2, 2, 3), i, np.uint8), float(i))
    index, t, frame = slot.take()
    assert (index, t, int(frame[0, 0, 0])) == (2, 2.0, 2)
    assert (slot.captured, slot.dropped, slot.taken) == (3, 2, 1)
    slot.put(np.zeros((2, 2, 3), np.uint8), 3.0)
    slot.close()
    assert not slot.ended  # the last frame is still waiting
    slot.discard()
    assert slot.ended and slot.take(timeout=0) is None
    assert slot.taken + slot.dropped == slot.captured == 4


def test_capture_error_reaches_the_loop():
    slot = FrameSlot()
    slot.close(OSError("camera unplugged"))
    with pytest.raises(OSError, match="unplugged"):
        slot.take(timeout=0)


def test_benchmark_prints_and_writes_the_summary(files, tmp_path, capsys):
    out = tmp_path / "live.json"
    rc = main(["live", "--source", str(files["portrait"]), "--camera", str(files["clip"]), "--benchmark",
               "--work-size", "256", "--json", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    assert "preparing the portrait" in captured.err  # feedback before the first frame
    for text in ("frames captured", "drop rate", "fps shown", "latency capture -> display", "median", "p90", "landmarks", "render",
                 "peak memory"):
        assert text in captured.out
    s = json.loads(out.read_text())
    assert s["frames_captured"] == CLIP_FRAMES
    assert s["frames_shown"] + s["frames_dropped"] == s["frames_captured"]
    assert s["frames_shown"] > 0 and 0 <= s["drop_rate"] <= 1
    assert s["camera_fps"] == 25 and s["work_size"] == 256
    lat = s["latency_ms"]
    assert 0 < lat["median"] <= lat["p90"] <= lat["max"]
    assert s["stage_ms_median"]["landmarks"] > 0 and s["stage_ms_median"]["render"] > 0
    assert s["fps_shown"] > 0 and s["peak_rss_mb"] > 0 and s["interrupted"] is False


def test_a_slow_renderer_drops_frames_instead_of_queueing(files, reenactor, prepared, monkeypatch):
    from reenactor.api import Reenactor

    render = Reenactor.render

    def slow_render(self, *args, **kwargs):
        time.sleep(0.12)  # three camera frames (40 ms each) per rendered one
        return render(self, *args, **kwargs)

    monkeypatch.setattr(Reenactor, "render", slow_render)
    capture = open_capture(str(files["clip"]))
    session = reenactor.session(prepared, fps=capture.fps, crop_output=True)
    try:
        stats = run_live(session, capture)
    finally:
        session.close()
    assert stats.captured == CLIP_FRAMES
    assert stats.shown + stats.dropped == stats.captured
    assert stats.dropped >= stats.captured // 2  # a queue would drop nothing
    # Each shown frame waited at most one frame's processing before its own:
    # bounded by the measured per-frame time, not growing with the clip (a queue
    # of 30 frames at >120 ms each would reach seconds).
    work = max(a + b for a, b in zip(stats.landmarks_ms, stats.render_ms))
    assert max(stats.latency_ms) <= 2 * work + 100
    assert stats.latency_ms[-1] <= 2 * work + 100


def test_preview_and_recording(files, tmp_path, capsys):
    from reenactor.livepreview import MjpegPreview

    preview = MjpegPreview(0)
    try:
        frame = np.zeros((64, 48, 3), np.uint8)
        frame[..., 0] = 200
        preview.show(frame)
        page = urllib.request.urlopen(preview.url, timeout=5).read().decode()
        assert '<img src="/stream"' in page
        jpeg = urllib.request.urlopen(preview.url + "frame.jpg", timeout=5).read()
        import cv2

        got = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert got.shape == (64, 48, 3) and got[..., 2].mean() > 150  # red, as BGR
    finally:
        preview.close()
    out = tmp_path / "rec.mp4"
    rc = main(["live", "--source", str(files["portrait"]), "--camera", str(files["clip"]), "--work-size", "256", "--max-frames", "12",
               "--output", str(out), "--preview", "0", "-q"])
    assert rc == 0
    assert "frames captured 12" in capsys.readouterr().out
    info = probe_video(out)
    assert (info.width, info.height, info.n_frames) == (256, 256, 12)  # dropped frames repeat the last shown one


@pytest.mark.parametrize("camera, message", [
    ("missing.mp4", "no such video file"),
    ("99", "cannot open camera 99"),
    ("-1", "camera index must be 0 or more"),
])
def test_bad_camera_is_one_line(files, capsys, camera, message):
    rc = main(["live", "--source", str(files["portrait"]), "--camera", camera, "--benchmark"])
    assert message in _one_line_error(capsys, rc)


def test_not_a_video_and_option_clash_are_one_line(files, tmp_path, capsys):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    rc = main(["live", "--camera", str(notes), "--benchmark"])
    assert "notes.mp4" in _one_line_error(capsys, rc)
    rc = main(["live", "--camera", str(files["clip"]), "--benchmark", "--output", str(tmp_path / "x.mp4")])
    assert "--benchmark runs without" in _one_line_error(capsys, rc)
    assert not (tmp_path / "x.mp4").exists()


def test_driving_controls_reach_the_live_session(files, capsys, monkeypatch):
    """``live`` takes animate's --pose, --pose-scale, --pose-offset, --expression-scale and --gain (one definition)."""
    import reenactor.livecli as livecli
    from reenactor.cli import CONFIG_OPTIONS, DRIVING_OPTIONS, build_parser

    seen = {}
    make = livecli._session

    def spy(args, cfg, fps):
        session, prepare_s = make(args, cfg, fps)
        seen["config"] = session.r.config
        return session, prepare_s

    monkeypatch.setattr(livecli, "_session", spy)
    rc = main(["live", "--source", str(files["portrait"]), "--camera", str(files["clip"]), "--benchmark", "--work-size", "256",
               "--max-frames", "3", "--pose", "portrait", "--pose-scale", "0.5", "--pose-offset", "yaw=10",
               "--expression-scale", "1.2", "--gain", "mouth=1.3", "--gain", "eyes=0.8", "-q"])
    assert rc == 0
    rc_ = seen["config"].retarget
    assert (rc_.pose, rc_.pose_scale, rc_.expression_gain) == ("portrait", 0.5, 1.2)
    assert rc_.pose_offset == {"yaw": 10.0} and rc_.gain == {"mouth": 1.3, "eyes": 0.8}
    assert seen["config"].render.work_size == 256
    # The same help text as animate's: the options come from CONFIG_OPTIONS.
    live = build_parser()._subparsers._group_actions[0].choices["live"]
    animate = build_parser()._subparsers._group_actions[0].choices["animate"]
    for flag in DRIVING_OPTIONS:
        got = next(a for a in live._actions if flag in a.option_strings)
        want = next(a for a in animate._actions if flag in a.option_strings)
        assert (got.help, got.type, got.choices) == (want.help, want.type, want.choices)
    assert set(DRIVING_OPTIONS) <= {flag for flag, *_ in CONFIG_OPTIONS}
    capsys.readouterr()
    rc = main(["live", "--camera", str(files["clip"]), "--benchmark", "--pose-scale", "-1"])
    assert "pose_scale must be in" in _one_line_error(capsys, rc)
