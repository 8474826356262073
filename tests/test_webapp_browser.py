"""The web app end to end in a real browser: headless Chromium (Debian's /usr/bin/chromium)
driven by Playwright, against ``reenactor serve``'s app started in this process.

Skipped only outside CI when Chromium, Playwright or Gradio is missing; under CI (the
environment variable CI set, as ``.ci/run`` does) a missing tool is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from webapp_media import make_driver, write_y4m

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing() -> list[str]:
    missing = [f"{name} (pip install 'reenactor[ui]')" for name in ("gradio", "playwright") if importlib.util.find_spec(name) is None]
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    return missing


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    if _missing():
        message = "browser tests need " + ", ".join(_missing())
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: .ci/run installs them)")
        pytest.skip(message)
    from reenactor.io.video import iter_frames

    folder = tmp_path_factory.mktemp("browser")
    driver = make_driver(folder)
    from reenactor.io.image import write_image

    write_image(folder / "grey.png", np.full((240, 240, 3), 128, np.uint8))
    return {"driver": driver, "camera": write_y4m(list(iter_frames(driver)), folder / "camera.y4m"), "grey": folder / "grey.png"}


@pytest.fixture(scope="module")
def server(media):
    from reenactor.webapp.app import launch
    from reenactor.webapp.handlers import Handlers
    from reenactor.webapp.stream import LiveStreams

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handlers = Handlers(work_size=256, max_frames=15)
    streams = LiveStreams(handlers)
    demo = launch(handlers, streams, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    streams.close()
    handlers.close()


@pytest.fixture(scope="module")
def browser(media):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={media['camera']}"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server)
    yield page
    context.close()


def _src(page, selector: str) -> str | None:
    img = page.locator(f"{selector} img")
    return img.first.get_attribute("src") if img.count() else None


def _wait_for_new_src(page, selector: str, old: str | None, seconds: float = 60.0) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        src = _src(page, selector)
        if src and src != old:
            return src
        page.wait_for_timeout(200)
    raise AssertionError(f"{selector}: the image did not change in {seconds:.0f} s")


def _wait_for_video(page, selector: str, seconds: float) -> None:
    """Wait until ``selector`` holds a <video>; fail at once, with the page's words, when an error shows."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if page.locator(f"{selector} video").count():
            return
        errors = [t.strip() for t in page.locator(".toast-body").all_inner_texts() if t.strip()]
        if errors:
            raise AssertionError(f"the render failed in the page: {errors}")
        page.wait_for_timeout(250)
    status = page.locator("#animate-status").inner_text()
    progress = page.locator(f"{selector} .progress-text, .progress-text").all_inner_texts()
    raise AssertionError(f"no video in {seconds:.0f} s; status {status!r}, progress {progress}")


def test_upload_render_and_the_video_plays(page, media):
    page.locator("#animate-driver input[type=file]").set_input_files(str(media["driver"]))
    page.wait_for_function("() => document.querySelector('#animate-motion input').value === 'uploaded video'")
    _wait_for_new_src(page, "#preview", None)  # the page's first preview done: the render does not queue behind it
    page.locator("#render").click()
    _wait_for_video(page, "#result", seconds=300)
    page.wait_for_function("() => { const v = document.querySelector('#result video'); return v && v.readyState >= 2; }")
    page.evaluate("() => document.querySelector('#result video').play()")
    page.wait_for_function("() => document.querySelector('#result video').currentTime > 0.1")
    assert "frames in" in page.locator("#animate-status").inner_text()


def test_moving_a_slider_changes_the_preview(page):
    first = _wait_for_new_src(page, "#preview", None)
    track = page.locator("#preview-position input[type=range]")
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.05, box["y"] + box["height"] / 2)
    _wait_for_new_src(page, "#preview", first)


def test_a_portrait_without_a_face_gets_a_message(page, media):
    _wait_for_new_src(page, "#preview", None)
    page.locator("#animate-portrait input[type=file]").set_input_files(str(media["grey"]))
    page.get_by_text("no face found in the portrait").first.wait_for(state="visible")
    assert "Traceback" not in page.content()


def test_live_tab_streams_the_fake_webcam(page):
    page.get_by_role("tab", name="Live").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#webcam button", has_text="Record").click()
    first = _wait_for_new_src(page, "#live-output", None)
    second = _wait_for_new_src(page, "#live-output", first)
    assert second != first
    page.wait_for_function("() => document.querySelector('#live-stats textarea').value.includes('fps')")
    stats = page.locator("#live-stats textarea").input_value()
    assert "latency" in stats and "fps" in stats, stats
