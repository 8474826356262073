"""The web app's handlers without a browser (reenactor.webapp.handlers / .stream), and the
page's construction (needs the ui extra: skipped without Gradio)."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.errors import InputError, NoFaceError
from reenactor.webapp.handlers import MB, UPLOADED, Handlers, check_upload
from reenactor.webapp.stream import LiveStreams
from webapp_media import make_driver


@pytest.fixture(scope="module")
def handlers():
    h = Handlers(work_size=256, max_frames=15, keep_results=2)
    yield h
    h.close()
    assert not h.folder.exists()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    return make_driver(tmp_path_factory.mktemp("webapp"))


def test_preview_follows_position_and_gain(handlers, driver):
    a = handlers.preview(None, None, "talk", 1.0, 1.0, 0.1)
    b = handlers.preview(None, None, "talk", 1.0, 1.0, 0.6)
    assert a.shape == (512, 512, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b).mean() > 0.1
    full = handlers.preview(None, driver, UPLOADED, 1.0, 1.0, 0.5)
    none = handlers.preview(None, driver, UPLOADED, 0.0, 1.0, 0.5)
    assert np.abs(full.astype(int) - none).mean() > 0.1


def test_render_writes_into_its_folder_and_prunes(handlers, driver):
    paths = [handlers.render(None, driver, UPLOADED, 1.0, 1.0)[0] for _ in range(2)]
    path, stats = handlers.render(None, None, "nod", 1.0, 1.0, max_frames=5)
    assert stats["frames"] == 5 and path.parent == handlers.folder and path.stat().st_size > 0
    assert sorted(handlers.folder.glob("result-*")) == sorted([paths[1], path])


def test_edit_changes_the_portrait(handlers):
    same = handlers.edit(None)
    turned = handlers.edit(None, yaw=15.0, smile=1.0)
    assert same.shape == turned.shape == (512, 512, 3)
    assert np.abs(same.astype(int) - turned).mean() > 0.5
    with pytest.raises(InputError, match="out of range"):
        handlers.edit(None, mouth=5.0)


def test_bad_inputs_are_one_line_and_name_no_path(handlers, tmp_path):
    grey = tmp_path / "grey.png"
    from reenactor.io.image import write_image

    write_image(grey, np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="no face found in the portrait"):
        handlers.preview(str(grey), None, "talk", 1.0, 1.0, 0.5)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InputError) as info:
        handlers.preview(None, str(text), UPLOADED, 1.0, 1.0, 0.5)
    assert str(tmp_path) not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="upload a driver video"):
        handlers.render(None, None, UPLOADED, 1.0, 1.0)
    with pytest.raises(InputError, match="unknown motion"):
        handlers.preview(None, None, "dance", 1.0, 1.0, 0.5)


def test_upload_size_limit(tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as f:
        f.truncate(21 * MB)
    with pytest.raises(InputError, match="limit is 20 MB"):
        check_upload(big, 20 * MB, "portrait")


def test_live_streams_render_and_measure(handlers, driver):
    from reenactor.io.video import iter_frames

    streams = LiveStreams(handlers)
    outs = [streams.step("s1", None, frame) for frame in iter_frames(driver)]
    frame, status = outs[-1]
    assert frame.shape == (256, 256, 3) and "ms" in status and "fps" in status and "15 frames" in status
    assert np.abs(outs[0][0].astype(int) - frame).mean() > 0.1
    assert streams.step("s1", None, None) == (None, "waiting for the webcam")
    streams.close()


def test_app_builds_without_serving(handlers):
    pytest.importorskip("gradio", reason="gradio is not installed (ui extra)")
    from reenactor.webapp.app import build_app

    demo = build_app(handlers, LiveStreams(handlers))
    assert {"Animate", "Edit", "Live"} <= {getattr(b, "label", None) for b in demo.blocks.values()}


def test_serve_without_gradio_says_how_to_install(monkeypatch, capsys, tmp_path):
    import sys

    from reenactor import cli

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # serve sets it: restored after the test
    monkeypatch.setitem(sys.modules, "gradio", None)
    monkeypatch.delitem(sys.modules, "reenactor.webapp.app", raising=False)
    assert cli.main(["serve", "--port", "1"]) == 3
    assert "pip install 'reenactor[ui]'" in capsys.readouterr().err


def test_driving_controls_reach_the_preview_and_the_config(handlers, driver):
    from reenactor.webapp.handlers import drive_overrides

    assert drive_overrides({"gain_mouth": 1.5, "offset_yaw": 10.0, "pose": "portrait"}) == {
        "pose": "portrait", "pose_scale": 1.0, "gain": {"mouth": 1.5}, "pose_offset": {"yaw": 10.0}}
    r = handlers.renderer(1.0, 1.0, {"gain_eyes": 0.5, "pose_scale": 0.5})
    assert r.config.retarget.gain == {"eyes": 0.5} and r.config.retarget.pose_scale == 0.5
    base = handlers.preview(None, None, "talk", 1.0, 1.0, 0.5)
    turned = handlers.preview(None, None, "talk", 1.0, 1.0, 0.5, controls={"offset_yaw": 20.0})
    assert np.abs(base.astype(int) - turned).mean() > 0.5  # built-in motions take the controls too
    kept = handlers.preview(None, driver, UPLOADED, 1.0, 1.0, 0.5, controls={"pose": "portrait"})
    moved = handlers.preview(None, driver, UPLOADED, 1.0, 1.0, 0.5, controls={"pose": "driver"})
    assert np.abs(kept.astype(int) - moved).mean() > 0.1
    with pytest.raises(InputError, match="unknown driving control"):
        handlers.preview(None, None, "talk", 1.0, 1.0, 0.5, controls={"wink": 1.0})
    from reenactor.errors import ReenactorError

    with pytest.raises(ReenactorError, match="gain"):
        handlers.renderer(1.0, 1.0, {"gain_mouth": 9.0})


def test_live_streams_take_the_driving_controls(handlers, driver):
    from reenactor.io.video import iter_frames

    frames = list(iter_frames(driver))
    streams = LiveStreams(handlers)
    plain = [streams.step("s2", None, f)[0] for f in frames][-1]
    first = streams._sessions["s2"]["live"]
    turned = [streams.step("s2", None, f, controls={"offset_yaw": 20.0}) for f in frames][-1][0]
    assert streams._sessions["s2"]["live"] is not first  # new controls: a new live session
    assert np.abs(plain.astype(int) - turned).mean() > 0.5
    streams.close()


def test_page_handlers_get_gradios_special_arguments(handlers):
    """Gradio fills Progress and Request only into parameters before ``*values``."""
    pytest.importorskip("gradio")
    import inspect

    from gradio.helpers import special_args

    from reenactor.webapp.app import build_app
    from reenactor.webapp.stream import LiveStreams

    demo = build_app(handlers, LiveStreams(handlers))
    fns = {name: block.fn for block in demo.fns.values() if (name := getattr(block.fn, "__name__", "")) in ("render", "step")}
    assert set(fns) == {"render", "step"}
    for name, fn in fns.items():
        n = len([p for p in inspect.signature(fn).parameters.values() if p.kind is p.VAR_POSITIONAL])
        filled, progress, _, _ = special_args(fn, ["x"] * 14, request="REQ")
        assert n == 1 and len(filled) == 15, name
        if name == "render":
            assert progress == 6
        else:
            assert filled[3] == "REQ"
