"""``reenactor serve``: a local web app (the ``ui`` extra, Gradio).

Tabs: Animate (portrait + driver video or built-in motion, gain sliders with a
one-frame preview, render with a progress bar, the video to play and
download), Edit (a still's pose and expression by sliders), Live (the
browser's webcam drives the portrait frame by frame).

Layers: :mod:`~reenactor.webapp.handlers` and :mod:`~reenactor.webapp.stream`
do the work without Gradio; :mod:`~reenactor.webapp.app` builds the page.
This module adds the command and imports Gradio only when it runs.
"""

from __future__ import annotations

import os
import sys
import tempfile

from reenactor.errors import DependencyError

DESCRIPTION = ("Start a local web app: animate a portrait (upload or the built-in astronaut) with a driver video or a "
               "built-in motion, edit a still's pose and expression, or drive it live from the browser's webcam. "
               "Bound to 127.0.0.1 unless --host says otherwise. Stop it with Ctrl-C.")
INSTALL_HINT = "the web app needs the ui extra: pip install 'reenactor[ui]'"


def add_serve_parser(sub) -> None:
    """Add ``serve`` to a subparsers object."""
    from reenactor.cli import _positive_int, _work_size

    p = sub.add_parser("serve", help="start the web app (local server; needs the ui extra)",
                       description=DESCRIPTION)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_positive_int, default=7860, help="port (default 7860)")
    p.add_argument("--work-size", type=_work_size, default=512, help="the renderer's working resolution (default 512)")
    p.add_argument("--max-frames", type=_positive_int, default=1500, help="longest video rendered, in frames (default 1500)")


def run_serve(args) -> int:
    """``reenactor serve``: serve until Ctrl-C; every temporary file is removed on the way out."""
    with tempfile.TemporaryDirectory(prefix="reenactor-uploads-") as uploads:
        os.environ["GRADIO_TEMP_DIR"] = uploads  # uploads and Gradio's copies live (and die) here
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        try:
            from reenactor.webapp.app import launch
        except ImportError as exc:
            if exc.name and exc.name.split(".")[0] == "gradio":
                raise DependencyError(INSTALL_HINT) from None
            raise
        from reenactor.webapp.handlers import Handlers
        from reenactor.webapp.stream import LiveStreams

        handlers = Handlers(work_size=args.work_size, max_frames=args.max_frames)
        streams = LiveStreams(handlers)
        print(f"reenactor: serving on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
        try:
            launch(handlers, streams, args.host, args.port, block=True)
        except OSError as exc:
            from reenactor.errors import OutputError

            raise OutputError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
        finally:
            streams.close()
            handlers.close()
    return 0
