"""The FD-GAN inner mouth (``--mouth fdgan``): input contract and runtime.

The network is the seed paper's FD-GAN (:mod:`reenactor.train.fdgan_net`,
trained by ``reenactor train fdgan --region lips --residual``), shipped as two
ONNX graphs under one registry prefix (:data:`MODEL_NAME`):

``<prefix>_extractor``
    ``src_img`` (1, 3, S, S) float32 in [-1, 1]: the portrait's lips crop;
    ``src_lm`` (1, C, S, S) float32 in [0, 1]: its landmark image
    -> ``dict0`` .. ``dict3`` ((1, rows_k, width_k) float32), the portrait's
    feature dictionaries. Run once per portrait.
``<prefix>_translator``
    ``tgt_lm`` (1, C, S, S): the target landmark image, ``dict0`` .. ``dict3``,
    ``cond`` (1, 3, S, S) in [-1, 1]: the portrait's crop warped onto the
    target landmarks; (1, 4, S, S) for a model trained with ``--cond hole``:
    the same with the target's opening cut out plus the hole's mask
    (:func:`reenactor.render.landmark_image.mouth_condition`; the translator's
    ONNX metadata ``cond`` names the condition, else 4 channels mean
    ``"hole"``); for ``cond="learned"`` the hole holds the learned painter's
    mouth with the appearance of the whole portrait (in training painted on
    the warped crop, :func:`reenactor.render.mouth_learned.painted_in_place`;
    at run time on the rendered frame), to which the translator adds a
    change; for ``cond="hint"`` (1, 6, S, S): the ``"learned"`` condition
    plus the driver's mouth layout and its mask
    (:mod:`reenactor.render.mouth_hint`; zeros when no driver mouth is given)
    -> ``img`` (1, 3, S, S) in [-1, 1], the target lips
    crop. Run once per frame.

S (the crop side) and C (landmark channels) are read from the graph's input
shapes. The crop, the landmark image and the warp are those of training
(:mod:`reenactor.render.landmark_image`, region ``"lips"``): a similarity that
levels the outer eye corners, scaled from their distance and centred on the
outer lips; the warp is piecewise affine over the face mesh, with the portrait's
own inner mouth mapped into the target's lips. Only the inside of the target
inner-lip contour is used by :class:`reenactor.render.mouth.MouthRenderer`.

No torch here: onnxruntime only.
"""

from __future__ import annotations

import numpy as np

from reenactor.render import landmark_image as L
from reenactor.render.mouth import MouthPatch

#: Registry prefix of the shipped model (``<prefix>_extractor``, ``<prefix>_translator``).
MODEL_NAME = "fdgan_lips"
#: Crop geometry shared with training.
REGION = "lips"


class FDGANMouthPainter:
    """Paints the target lips crop from the portrait's dictionaries.

    Args:
        image: the portrait, HxWx3 uint8 RGB, in the space drawn on.
        landmarks: (478, 2+) its landmarks in that space (x right, y down).
        model: registry prefix (``MODEL_NAME``) or a folder holding
            ``extractor.onnx`` and ``translator.onnx``.

    Raises:
        reenactor.errors.DependencyError: onnxruntime is missing.
        reenactor.weights.WeightsError: a model file is missing or corrupt.
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, model: str = MODEL_NAME) -> None:
        from pathlib import Path

        from reenactor.weights import onnx_session

        folder = Path(model)
        if folder.is_dir():
            ext, self.session = (onnx_session(folder / f"{p}.onnx") for p in ("extractor", "translator"))
        else:
            ext, self.session = (onnx_session(f"{model}_{p}") for p in ("extractor", "translator"))
        shape = self.session.get_inputs()[0].shape  # tgt_lm (1, C, S, S)
        self.channels, self.size = int(shape[1]), int(shape[2])
        cond = [i.shape for i in self.session.get_inputs() if i.name == "cond"]
        meta = self.session.get_modelmeta().custom_metadata_map
        #: the condition the translator was trained on: "warp", "hole", "learned" or "hint"
        self.cond = meta.get("cond", "hole" if cond and int(cond[0][1]) == 4 else "warp")
        self.learned = None
        if self.cond in L.PAINTED:
            from reenactor.render.mouth_learned import LearnedMouthPainter, appearance

            self.learned = LearnedMouthPainter(appearance(image, landmarks))
        m = L.crop_affine(landmarks, REGION, self.size)
        self.crop = L.crop_image(image, m, self.size)
        self.points = L.to_crop(landmarks, m)
        feeds = {"src_img": L.to_unit(self.crop)[None], "src_lm": L.landmark_image(self.points, self.size, self.channels)[None]}
        names = [o.name for o in ext.get_outputs()]
        self.dicts = dict(zip(names, ext.run(None, feeds)))

    def inputs(self, target: np.ndarray, frame: np.ndarray | None = None,
               driver: MouthPatch | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The translator's feeds for target landmarks ((478, 2+) frame pixels), and the image -> crop transform.

        For ``cond="learned"`` (and ``"hint"``) with ``frame`` given, the hole holds the learned
        painter's mouth painted on ``frame`` (what :meth:`paint` adds the
        translator's change to), resampled into the lips crop; without it, the
        mouth painted on the warped lips crop, as in training. For
        ``cond="hint"`` the driver's mouth patch, when given, becomes the hint
        channels (:mod:`reenactor.render.mouth_hint`); without it they are 0."""
        m = L.crop_affine(target, REGION, self.size)
        pts = L.to_crop(target, m)
        warped = L.warp_to_landmarks(self.crop, self.points, pts)
        fill = None
        if self.learned is not None and frame is None:
            from reenactor.render.mouth_learned import painted_in_place

            fill = painted_in_place(self.learned, warped, pts)
        elif self.learned is not None:
            fill = self._frame_fill(frame, target, m)
        cond = L.mouth_condition(warped, pts, self.cond in L.HOLED, fill)
        if self.cond == "hint":
            cond = np.concatenate([cond, self._hint(driver, pts, cond[3])])
        return {"tgt_lm": L.landmark_image(pts, self.size, self.channels)[None], "cond": cond[None], **self.dicts}, m

    def _hint(self, driver: MouthPatch | None, pts: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """(2, S, S) float32 hint channels from the driver's mouth patch (zeros without one);
        ``hole``: the condition's hole mask, already drawn for these target points."""
        from reenactor.render import mouth_hint as H

        if driver is None:
            return H.no_hint(self.size)
        return H.hint_channels(H.driver_in_crop(driver.image, driver.inner, pts, self.size), pts, hole=hole)

    def _frame_fill(self, frame: np.ndarray, target: np.ndarray, m: np.ndarray) -> np.ndarray:
        """The learned painter's mouth on ``frame`` ((S, S, 3) uint8, resampled into the lips crop ``m``);
        the painting and its transform are kept for :meth:`_refined`."""
        from reenactor.render.mouth_learned import resample_painting

        painted, m2 = self.learned.paint(frame, target)
        self._painted = (painted, m2)
        return resample_painting(painted, m2, m, (self.size, self.size))

    def paint(self, frame: np.ndarray, target: np.ndarray, driver: MouthPatch | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Predict the lips crop for target landmarks.

        Args:
            frame: HxWx3 uint8 RGB frame being rendered (the condition is the
                portrait warped in crop space, exactly as in training; the
                frame is used only by ``cond="learned"`` and ``"hint"``, whose learned mouth
                is painted on it as ``--mouth learned`` does).
            target: (478, 2+) target landmarks in ``frame`` pixels.
            driver: the driver's mouth this frame, for a ``cond="hint"`` model
                (ignored by the others); None withholds it.

        Returns:
            ((S, S, 3) float32 RGB 0..255 crop, (2, 3) image -> crop transform);
            for ``cond="learned"`` the learned painter's crop and transform
            (:meth:`_refined`).
        """
        feeds, m = self.inputs(target, frame, driver)
        y = self.session.run(None, feeds)[0][0]
        if self.learned is not None:
            return self._refined((y - feeds["cond"][0, :3]).transpose(1, 2, 0) * 127.5, m)
        return np.clip((y.transpose(1, 2, 0) + 1.0) * 127.5, 0, 255).astype(np.float32), m

    def _refined(self, change: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``cond="learned"``: the learned painter's mouth on the rendered frame plus the translator's change.

        ``change`` ((S, S, 3) float32, 0..255 units, lips-crop pixels ``m``) is
        the translator's output minus its condition; it is added to the learned
        mouth painted on the frame (:meth:`_frame_fill`), at the learned
        painter's own crop resolution, so an untrained (zero-change) model
        gives exactly ``--mouth learned``.

        Returns:
            ((64, 80, 3) float32 RGB 0..255 crop, (2, 3) image -> crop transform of that crop).
        """
        import cv2

        from reenactor.render.mouth_learned import crop_to

        painted, m2 = self._painted
        h, w = painted.shape[:2]
        moved = cv2.warpAffine(change.astype(np.float32), crop_to(m2, m), (w, h),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return np.clip(painted + moved, 0, 255).astype(np.float32), m2

