"""The shipped face networks (converted from mediapipe's TFLite files) against LiteRT's outputs.

``tests/data/face_models_reference.npz`` holds, for each network that LiteRT
can run (all but the attention landmark model, whose custom operators only
mediapipe implements; it is checked end to end in tests/test_face_runtime.py
and scripts/face_agreement.py), a real face at the network's input size and
LiteRT's outputs on it, written by ``scripts/convert_face_models.py``.
No mediapipe, TFLite or LiteRT is needed here.
"""

from pathlib import Path

import numpy as np
import pytest

from reenactor.weights import REGISTRY, onnx_session

REFERENCE = Path(__file__).parent / "data" / "face_models_reference.npz"
#: network -> its input range (the reference stores the input as uint8)
RANGES = {
    "face_detection_short_range": (-1.0, 1.0),
    "face_detection_full_range": (-1.0, 1.0),
    "face_landmark": (0.0, 1.0),
    "iris_landmark": (0.0, 1.0),
    "selfie_segmentation": (0.0, 1.0),
    "selfie_segmentation_landscape": (0.0, 1.0),
}


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as ref:
        return {k: ref[k] for k in ref.files}


@pytest.mark.parametrize("name", sorted(RANGES))
def test_network_matches_litert(name, reference):
    assert name in REGISTRY
    lo, hi = RANGES[name]
    x = (reference[f"{name}/input_u8"].astype(np.float32) / 255.0 * (hi - lo) + lo)[None]
    sess = onnx_session(name)
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
    outputs = [k.split("/", 1)[1] for k in reference if k.startswith(name + "/") and not k.endswith("/input_u8")]
    assert sorted(outputs) == sorted(got)
    for out in outputs:
        want = reference[f"{name}/{out}"]
        assert got[out].shape == want.shape
        # The uint8 round trip of the input moves nothing: it was made from uint8 pixels.
        scale = max(1.0, float(np.abs(want).max()))
        assert float(np.abs(got[out] - want).max()) <= 1e-4 * scale, (name, out)


def test_attention_model_declares_its_refinement_indices():
    import json

    sess = onnx_session("face_landmark_attention")
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["refinement_indices"])
    assert len(meta["output_lips"]) == 80
    assert len(meta["output_left_eye"]) == len(meta["output_right_eye"]) == 71
    assert meta["output_left_eye"][0] == 33 and meta["output_right_eye"][0] == 263
    names = {o.name: o.shape for o in sess.get_outputs()}
    assert names["output_mesh_identity"] == [1, 1, 1, 1404]
