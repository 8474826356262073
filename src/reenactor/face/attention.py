"""mediapipe's attention Face Mesh: 478 points (mesh, refined lips and eyes, irises) from one network.

``face_landmark_attention`` (mediapipe 0.10.21's
``face_landmark_with_attention.tflite``, the model behind Face Mesh's
``refine_landmarks=True``) takes the same ``(1, 192, 192, 3)`` crop in
``[0, 1]`` as the plain mesh model and returns, in crop pixels:

* ``output_mesh_identity`` (1404 = 468 x 3 values): the mesh, ``x, y, z``;
* ``output_lips`` (80 x 2), ``output_left_eye`` / ``output_right_eye``
  (71 x 2 each): refined ``x, y`` of the mesh points listed, in order, by the
  model's ``refinement_indices`` metadata (written by
  ``scripts/convert_face_models.py`` from the model's own crop subsets);
* ``output_left_iris`` / ``output_right_iris`` (5 x 2): iris centre then
  rim of the image-left eye (the subject's right; indices 468..472) and of
  the other (473..477); their ``z`` is the mean mesh ``z`` of the first 16
  points (the eyelids) of that eye's refinement list;
* ``conv_faceflag`` (1): face-presence logit.

This is mediapipe's ``LandmarksRefinementCalculator`` table; the result equals
mediapipe's 478 points for the same crop.
"""

from __future__ import annotations

import json

import numpy as np

from reenactor.face.roi import Roi, crop, crop_to_image

MESH_SIZE = 192
N_MESH = 468
N_OUT = 478
#: Refined (x, y) outputs and, for irises, their first output index.
REFINED = ("output_lips", "output_left_eye", "output_right_eye")
IRISES = (("output_left_iris", 468), ("output_right_iris", 473))
#: Eyelid points (first of each eye list) whose mean z is the iris z.
N_LID_POINTS = 16


def refinement_indices(session) -> dict[str, list[int]]:
    """The ``refinement_indices`` metadata of an onnxruntime session of the attention model.

    Raises:
        ValueError: the model carries no such metadata (not the shipped attention model).
    """
    meta = session.get_modelmeta().custom_metadata_map
    if "refinement_indices" not in meta:
        raise ValueError("this landmark model has no refinement_indices metadata (expected face_landmark_attention)")
    table = json.loads(meta["refinement_indices"])
    missing = [k for k in (*REFINED, *(name for name, _ in IRISES)) if k not in table]
    if missing:
        raise ValueError(f"refinement_indices lacks {missing}")
    return table


def assemble(outputs: dict[str, np.ndarray], table: dict[str, list[int]]) -> np.ndarray:
    """The 478 points in crop pixels, ``(478, 3) float32``, from the model's raw outputs."""
    mesh = np.asarray(outputs["output_mesh_identity"], dtype=np.float32).reshape(N_MESH, 3)
    pts = np.zeros((N_OUT, 3), dtype=np.float32)
    pts[:N_MESH] = mesh
    for name in REFINED:
        pts[table[name], :2] = np.asarray(outputs[name], dtype=np.float32).reshape(-1, 2)
    for name, slot in IRISES:
        pts[slot : slot + 5, :2] = np.asarray(outputs[name], dtype=np.float32).reshape(5, 2)
        pts[slot : slot + 5, 2] = mesh[table[name][:N_LID_POINTS], 2].mean()
    return pts


def attention_in_roi(rgb: np.ndarray, roi: Roi, run, table: dict[str, list[int]]) -> tuple[np.ndarray, float]:
    """All 478 points in ``roi``: ``((478, 3) float32 image pixels, face-flag probability)``.

    Args:
        rgb: HxWx3 uint8 RGB image.
        roi: the face's rotated square (see :mod:`reenactor.face.roi`).
        run: the attention model's runner (``batch -> {output name: array}``).
        table: :func:`refinement_indices` of that model.
    """
    outputs = run((crop(rgb, roi, MESH_SIZE, "replicate").astype(np.float32) * (1.0 / 255.0))[None])
    logit = float(np.clip(np.asarray(outputs["conv_faceflag"]).reshape(-1)[0], -100.0, 100.0))
    return crop_to_image(assemble(outputs, table), roi, MESH_SIZE), float(1.0 / (1.0 + np.exp(-logit)))
