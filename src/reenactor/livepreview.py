"""Where ``reenactor live`` shows its frames: a browser preview and/or a recording.

There is no native window: the installed OpenCV is ``opencv-python-headless``
(no ``cv2.imshow``), and a GUI toolkit would be a new dependency. Instead:

* :class:`MjpegPreview` serves the newest frame as an MJPEG stream over HTTP
  on 127.0.0.1 only (stdlib :mod:`http.server`): open ``http://127.0.0.1:PORT/``
  in a browser. JPEG encoding happens on the server's connection thread, so the
  render loop only hands the frame over; a slow browser sees fewer frames, it
  never holds the loop back.
* :class:`Recorder` writes the shown frames to an H.264 file at the camera's
  frame rate; a dropped frame repeats the last shown one, so the recording
  keeps the camera's timing.

Frames are ``H x W x 3`` uint8 RGB.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from reenactor.errors import OutputError

__all__ = ["MjpegPreview", "Recorder"]

PAGE = b"""<!doctype html><html><head><title>reenactor live</title></head>
<body style="margin:0;background:#111;display:flex;justify-content:center;align-items:center;height:100vh">
<img src="/stream" alt="reenactor live" style="max-height:100vh"></body></html>
"""
BOUNDARY = "reenactorframe"


class MjpegPreview:
    """An HTTP server on 127.0.0.1:``port`` (0: a free port, see :attr:`url`) showing the newest frame.

    Paths: ``/`` a page with the stream, ``/stream`` the MJPEG stream
    (``multipart/x-mixed-replace``), ``/frame.jpg`` the newest frame once.

    Raises:
        OutputError: the port cannot be opened (in use, or not allowed).
    """

    def __init__(self, port: int = 8000, quality: int = 85) -> None:
        self.quality = quality
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._closed = False
        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        except OSError as exc:
            raise OutputError(f"cannot serve the preview on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="reenactor-preview", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The page to open in a browser."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def show(self, frame: np.ndarray, index: int = 0) -> None:
        """Make ``frame`` (HxWx3 uint8 RGB, not modified afterwards) the one served; returns at once."""
        with self._cond:
            self._frame, self._seq = frame, self._seq + 1
            self._cond.notify_all()

    def next_jpeg(self, seen: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        """Wait for a frame newer than number ``seen``; returns (its number, JPEG bytes) or (seen, None)
        on timeout or after :meth:`close`."""
        import cv2

        with self._cond:
            if self._seq == seen and not self._closed:
                self._cond.wait(timeout)
            if self._seq == seen or self._frame is None:
                return seen, None
            seq, frame = self._seq, self._frame
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return seq, buf.tobytes() if ok else None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop serving (open streams end)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def _handler(preview: MjpegPreview) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to ``preview``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:  # noqa: A002  (no access log on the terminal)
            pass

        def do_GET(self) -> None:  # noqa: N802
            try:
                if self.path == "/":
                    self._send(200, "text/html; charset=utf-8", PAGE)
                elif self.path == "/frame.jpg":
                    _, jpeg = preview.next_jpeg(-1, timeout=0)
                    self._send(200, "image/jpeg", jpeg) if jpeg else self._send(503, "text/plain", b"no frame yet\n")
                elif self.path == "/stream":
                    self._stream()
                else:
                    self._send(404, "text/plain", b"not found\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = 0
            while not preview.closed:
                seen, jpeg = preview.next_jpeg(seen)
                if jpeg is None:
                    continue
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                self.wfile.flush()

    return Handler


class Recorder:
    """Write the shown frames to ``path`` (.mp4) at ``fps``, keeping the camera's timing.

    The file appears under its name only when :meth:`close` completes (an
    error or ``close(abort=True)`` leaves nothing). Encoding runs on its own
    thread (at most 2 frames waiting).

    Args:
        path: output video.
        fps: the camera's frame rate.
        size: (width, height) of the frames, even numbers.

    Raises:
        OutputError: the file cannot be written there.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        from reenactor.io.atomic import atomic_output
        from reenactor.io.background import BackgroundWriter
        from reenactor.io.provenance import provenance
        from reenactor.io.video import VideoWriter

        self._stack = ExitStack()
        tmp = self._stack.enter_context(atomic_output(path))
        self._writer = self._stack.enter_context(VideoWriter(tmp, fps=fps, size=size, metadata=provenance()))
        self._queue = BackgroundWriter(self._writer.write, depth=2)
        self._last: np.ndarray | None = None
        self._next = 0
        self.frames = 0

    def show(self, frame: np.ndarray, index: int) -> None:
        """Record ``frame`` (HxWx3 uint8 RGB) as capture frame ``index``; the frames dropped
        since the last one shown repeat that one."""
        while self._last is not None and self._next < index:
            self._queue.put(self._last)
            self._next += 1
            self.frames += 1
        self._queue.put(frame)
        self._last, self._next = frame, index + 1
        self.frames += 1

    def close(self, abort: bool = False) -> None:
        """Finish the file (or, with ``abort``, remove it)."""
        try:
            self._queue.close(abort=abort)
        except BaseException as exc:
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if abort:
            err = OutputError("recording aborted")
            self._stack.__exit__(OutputError, err, None)
        else:
            self._stack.close()
