"""The web app's page (Gradio): three tabs wired to :mod:`reenactor.webapp.handlers`
and :mod:`reenactor.webapp.stream`. Imported only by ``reenactor serve`` and the tests."""

from __future__ import annotations

import functools
import logging

import gradio as gr

from reenactor.errors import ReenactorError
from reenactor.webapp.handlers import DRIVE_SLIDERS, EDIT_SLIDERS, MAX_VIDEO_BYTES, POSE_CHOICES, UPLOADED

log = logging.getLogger(__name__)
VIDEO_TYPES = [".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"]
INTRO = ("Animate a portrait with a driver video or a built-in motion, edit a still's pose and expression, "
         "or drive it live from your webcam. Runs on this machine's CPU; nothing leaves it.")


def shown(fn):
    """``fn`` with user errors turned into a message in the page (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ReenactorError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # a bug: logged on the server, a short line in the page
            log.exception("web app handler failed")
            raise gr.Error(f"internal error ({type(exc).__name__}); the server's log has the details",
                           print_exception=False) from None

    return wrapper


def _drive_controls(prefix: str) -> tuple:
    """The driving controls (``reenactor animate``'s --gain, --pose, --pose-scale, --pose-offset) in a
    closed accordion: the pose mode radio and the DRIVE_SLIDERS sliders, ids ``<prefix>-<name>``."""
    with gr.Accordion("Driving controls (as reenactor animate's --gain, --pose, --pose-scale, --pose-offset)", open=False):
        pose = gr.Radio(list(POSE_CHOICES), value="auto", label="head pose (auto: the portrait's own for a still driver)",
                        elem_id=f"{prefix}-pose")
        sliders = []
        for group in ([k for k in DRIVE_SLIDERS if k.startswith("gain_")], [k for k in DRIVE_SLIDERS if not k.startswith("gain_")]):
            with gr.Row():
                sliders += [gr.Slider(*DRIVE_SLIDERS[name][:3], step=0.05, label=DRIVE_SLIDERS[name][3],
                                      elem_id=f"{prefix}-{name.replace('_', '-')}") for name in group]
    return pose, sliders


def _controls(pose_mode, values) -> dict:
    """The handlers' ``controls`` dict from the pose radio's value and the sliders' values."""
    return {"pose": pose_mode, **dict(zip(DRIVE_SLIDERS, values))}


def _animate_tab(handlers) -> dict:
    from reenactor.cli import TEMPLATE_NAMES

    with gr.Row():
        portrait = gr.Image(type="filepath", sources=["upload"], label="Portrait (empty: the built-in astronaut)",
                            elem_id="animate-portrait")
        driver = gr.File(file_types=VIDEO_TYPES, type="filepath", label="Driver video", elem_id="animate-driver")
    motion = gr.Dropdown([UPLOADED, *TEMPLATE_NAMES], value="talk", label="Motion (a built-in one, or the uploaded video)",
                         elem_id="animate-motion")
    with gr.Row():
        expression = gr.Slider(0.0, 2.0, 1.0, step=0.05, label="expression gain", elem_id="expression-gain")
        translation = gr.Slider(0.0, 2.0, 1.0, step=0.05, label="head movement gain", elem_id="translation-gain")
        position = gr.Slider(0.0, 1.0, 0.5, step=0.01, label="preview position", elem_id="preview-position")
    pose, drive = _drive_controls("drive")
    with gr.Row():
        preview = gr.Image(label="Preview (one frame)", interactive=False, format="jpeg", elem_id="preview")
        result = gr.Video(label="Result", interactive=False, autoplay=True, elem_id="result")
    button = gr.Button("Render", variant="primary", elem_id="render")
    status = gr.Markdown(elem_id="animate-status")

    @shown
    def render(portrait_path, driver_path, motion_name, e, t, pose_mode, progress=gr.Progress(track_tqdm=True), *values):
        # Gradio passes Progress and Request only to parameters before *values.
        progress(0, desc="preparing the portrait")
        path, stats = handlers.render(portrait_path, driver_path, motion_name, e, t, controls=_controls(pose_mode, values))
        lost = f", {stats['faces_lost']} without a face" if stats.get("faces_lost") else ""
        return str(path), f"{stats['frames']} frames in {stats['seconds']} s ({stats['fps_end_to_end']} fps){lost}"

    @shown
    def show(portrait_path, driver_path, motion_name, e, t, where, pose_mode, *values):
        return handlers.preview(portrait_path, driver_path, motion_name, e, t, where, controls=_controls(pose_mode, values))

    inputs = [portrait, driver, motion, expression, translation]
    update = dict(fn=show, inputs=[*inputs, position, pose, *drive], outputs=preview)
    for slider in (expression, translation, position, *drive):
        slider.release(**update)
    for component in (portrait, motion, pose):
        component.change(**update)
    driver.upload(lambda path: UPLOADED, driver, motion)
    button.click(render, [*inputs, pose, *drive], [result, status], concurrency_limit=1)
    return update


def _edit_tab(handlers) -> None:
    with gr.Row():
        portrait = gr.Image(type="filepath", sources=["upload"], label="Portrait (empty: the built-in astronaut)",
                            elem_id="edit-portrait")
        edited = gr.Image(label="Edited", interactive=False, format="png", elem_id="edited")
    sliders = [gr.Slider(lo, hi, value, step=0.05, label=label, elem_id=f"edit-{name}")
               for name, (lo, hi, value, label) in EDIT_SLIDERS.items()]
    reset = gr.Button("Reset")

    @shown
    def edit(portrait_path, *values):
        return handlers.edit(portrait_path, **dict(zip(EDIT_SLIDERS, values)))

    update = dict(fn=edit, inputs=[portrait, *sliders], outputs=edited)
    for slider in sliders:
        slider.release(**update)
    portrait.change(**update)
    reset.click(lambda: [spec[2] for spec in EDIT_SLIDERS.values()], None, sliders).then(**update)


def _live_tab(streams) -> None:
    gr.Markdown("Allow the camera, then start streaming: each webcam frame drives the portrait "
                "(the first frame with a face is the reference; keep a neutral face when you start).")
    with gr.Row():
        portrait = gr.Image(type="filepath", sources=["upload"], label="Portrait (empty: the built-in astronaut)",
                            elem_id="live-portrait")
        webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam", elem_id="webcam")
        output = gr.Image(label="Reenacted", interactive=False, format="jpeg", elem_id="live-output")
    stats = gr.Textbox(label="Latency and frame rate", interactive=False, elem_id="live-stats")
    pose, drive = _drive_controls("live")

    @shown
    def step(portrait_path, frame, pose_mode, request: gr.Request, *values):  # Request before *values (see render)
        return streams.step(request.session_hash, portrait_path, frame, controls=_controls(pose_mode, values))

    webcam.stream(step, [portrait, webcam, pose, *drive], [output, stats], stream_every=0.1, concurrency_limit=4,
                  show_progress="hidden")


def build_app(handlers, streams) -> gr.Blocks:
    """The page: the Animate, Edit and Live tabs (see the README's "Web app")."""
    with gr.Blocks(title="reenactor", delete_cache=(600, 3600), analytics_enabled=False) as demo:
        gr.Markdown(f"# reenactor\n{INTRO}")
        with gr.Tab("Animate", elem_id="tab-animate"):
            preview = _animate_tab(handlers)
        with gr.Tab("Edit", elem_id="tab-edit"):
            _edit_tab(handlers)
        with gr.Tab("Live", elem_id="tab-live"):
            _live_tab(streams)

        def stop(request: gr.Request):
            streams.stop(request.session_hash)

        demo.load(**preview)
        demo.unload(stop)
    return demo


def launch(handlers, streams, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> gr.Blocks:
    """Build the page and start serving it on ``host:port``; returns the running app
    (``block=False``: in a background thread, for tests; close it with ``demo.close()``)."""
    demo = build_app(handlers, streams)
    demo.queue(default_concurrency_limit=2).launch(
        server_name=host, server_port=port, max_file_size=MAX_VIDEO_BYTES, allowed_paths=[str(handlers.folder)],
        prevent_thread_lock=not block, quiet=True, show_error=False, inbrowser=False, share=False,
    )
    return demo
