"""The web app's live tab without Gradio: one :class:`reenactor.live.LiveSession` per browser
session, fed the webcam frames the browser streams, with latency and frame rate measured."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from reenactor.errors import InputError


class LiveStreams:
    """Live sessions by browser session id.

    Args:
        handlers: a :class:`reenactor.webapp.handlers.Handlers` (renderer and portraits).
        fps: the frame rate the smoothing assumes (the browser's streaming rate).
    """

    def __init__(self, handlers, fps: float = 10.0) -> None:
        self.handlers, self.fps = handlers, fps
        self._lock = threading.Lock()
        self._sessions: dict[str, dict] = {}

    def step(self, session_id: str, portrait_path, frame: np.ndarray | None,
             controls: dict | None = None) -> tuple[np.ndarray | None, str]:
        """Render ``frame`` (HxWx3 uint8 RGB from the webcam) through this session's live session,
        under the driving ``controls`` (:func:`reenactor.webapp.handlers.drive_overrides`; a change
        of controls or portrait starts a new live session).

        Returns:
            The rendered frame (the working crop) and a status line: the
            server's latency for this frame (frame received -> rendered, ms)
            and the frame rate of frames returned over the last seconds.
        """
        if frame is None:
            return None, "waiting for the webcam"
        received = time.perf_counter()
        frame = _rgb(frame)
        state = self._session(session_id, portrait_path, controls)
        with state["lock"]:
            out = state["live"].step(frame)
        done = time.perf_counter()
        times = state["times"]
        times.append(done)
        state["latency"].append((done - received) * 1000.0)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        latency = sorted(state["latency"])[len(state["latency"]) // 2]
        lost = f", {state['live'].lost} without a face" if state["live"].lost else ""
        return out, f"latency {latency:.0f} ms (median, server), {fps:.1f} fps, {state['frames']} frames{lost}"

    def _session(self, session_id: str, portrait_path, controls: dict | None = None) -> dict:
        """This browser session's state; a new live session when the portrait or the controls changed."""
        from dataclasses import replace

        from reenactor.webapp.handlers import drive_overrides

        fields = drive_overrides(controls)
        key = (portrait_path or "astronaut", repr(sorted(fields.items())))
        with self._lock:
            state = self._sessions.get(session_id)
        if state is not None and state["portrait"] == key:
            state["frames"] += 1
            return state
        self.stop(session_id)
        portrait = self.handlers.portrait(portrait_path)
        from reenactor.api import Reenactor

        config = replace(self.handlers.config, retarget=replace(self.handlers.config.retarget, **fields))
        live = Reenactor(config).session(portrait, fps=self.fps, crop_output=True)  # a renderer of its own
        state = {"portrait": key, "live": live, "lock": threading.Lock(), "times": deque(maxlen=30),
                 "latency": deque(maxlen=30), "frames": 1}
        with self._lock:
            self._sessions[session_id] = state
        return state

    def stop(self, session_id: str) -> None:
        """End this browser session's live session (the next frame starts a new one)."""
        with self._lock:
            state = self._sessions.pop(session_id, None)
        if state is not None:
            with state["lock"]:
                state["live"].close()

    def close(self) -> None:
        """End every live session."""
        for session_id in list(self._sessions):
            self.stop(session_id)


def _rgb(frame: np.ndarray) -> np.ndarray:
    """A webcam frame as HxWx3 uint8 RGB (alpha dropped)."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise InputError("the webcam frame is not an RGB picture")
    return np.ascontiguousarray(frame[..., :3])
