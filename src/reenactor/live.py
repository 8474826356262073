"""Frame-by-frame driving (webcam-style): :class:`LiveSession`, what
:meth:`reenactor.api.Reenactor.session` returns (re-exported by :mod:`reenactor.api`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reenactor.stages import StageTimer

if TYPE_CHECKING:
    from reenactor.api import PreparedPortrait, Reenactor

__all__ = ["LiveSession"]


class LiveSession:
    """Drive a portrait one frame at a time, with causal smoothing
    (:class:`reenactor.pipeline.LiveSource`, the same per-frame targets as
    ``run`` with that source).

    The first frame with a face becomes the motion reference; frames without
    a face hold the last pose. Before any face is seen the portrait is
    returned unchanged.
    """

    def __init__(self, reenactor: Reenactor, portrait: PreparedPortrait, fps: float, crop_output: bool, motion: str | None) -> None:
        from reenactor.pipeline import LiveSource

        self.r = reenactor
        self.portrait = reenactor.bind(portrait)
        self.crop_output = crop_output
        self.source = LiveSource(fps=fps, motion=motion)
        self.source.open(reenactor, self.portrait, StageTimer(), False)

    @property
    def lost(self) -> int:
        """Frames without a face so far."""
        return self.source.lost

    def step(self, frame: np.ndarray) -> np.ndarray:
        """Render the portrait for one driver frame (HxWx3 uint8 RGB); returns HxWx3 uint8 RGB
        (the portrait's size, or work_size square with ``crop_output``)."""
        target, patch = self.source.target_for(frame)
        if target is None:
            return (self.portrait.crop_image if self.crop_output else self.portrait.image).copy()
        return self.r.render(self.portrait, target, patch, self.crop_output)

    def close(self) -> None:
        self.source.close()
