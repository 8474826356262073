"""Own Face Mesh runtime (blazeface / roi / facemesh): decoding, NMS, ROI maths, tracking.

Everything but the last tests uses fake networks (plain callables), so it runs
without mediapipe, LiteRT or the ONNX files; the end-to-end tests skip cleanly
until ``src/reenactor/weights/face_landmark.onnx`` and its siblings exist.
"""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.face import blazeface as bf
from reenactor.face import facemesh as fmesh
from reenactor.face.roi import Roi, crop, crop_to_image, image_to_crop, rect_iou, roi_from_box, roi_from_points
from reenactor.weights import WEIGHTS_DIR

# ---------------------------------------------------------------- detector


def test_anchor_counts_and_layout():
    short = bf.ssd_anchors(bf.SHORT_RANGE)
    assert short.shape == (896, 2) and short.dtype == np.float32
    # 16x16 grid, 2 anchors per cell, then 8x8 grid, 6 anchors per cell.
    np.testing.assert_allclose(short[0], short[1])
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(short[512 + 6], [1.5 / 8, 0.5 / 8])
    full = bf.ssd_anchors(bf.FULL_RANGE)
    assert full.shape == (2304, 2)
    np.testing.assert_allclose(full[48], [0.5 / 48, 1.5 / 48])


def _fake_detector_outputs(anchor: int, raw_row: np.ndarray, logit: float = 4.0, n: int = 896):
    raw = np.zeros((1, n, 16), np.float32)
    raw[0, anchor] = raw_row
    scores = np.full((1, n, 1), -50.0, np.float32)
    scores[0, anchor] = logit
    return {"regressors": raw, "classificators": scores}


def test_decode_one_anchor_with_letterbox():
    anchor = 600  # in the 8x8 layer
    row = np.array([3.0, -2.0, 40.0, 48.0] + [float(v) for v in range(-6, 6)], np.float32)
    seen = {}

    def run(batch):
        seen["batch"] = batch
        return _fake_detector_outputs(anchor, row)

    det = bf.FaceDetector(run)
    width, height = 200, 100
    faces = det.detect(np.full((height, width, 3), 128, np.uint8))
    batch = seen["batch"]
    assert batch.shape == (1, 128, 128, 3) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0
    assert np.all(batch[0, :20] == -1.0) and np.all(batch[0, -20:] == -1.0)  # zero-border letterbox
    assert abs(batch[0, 64, 64, 0] - (128 * 2 / 255 - 1)) < 1e-5
    assert len(faces) == 1
    a = bf.ssd_anchors(bf.SHORT_RANGE)[anchor]
    scale = 128 / width  # the 200 px side fills the tensor, 50 px bands above and below
    centre_t = a * 128 + row[:2]
    centre = (centre_t - [0.0, 50 * scale]) / scale
    half = row[2:4] / 2 / scale
    np.testing.assert_allclose(faces[0].box, np.concatenate([centre - half, centre + half]), atol=1e-3)
    kps = ((a * 128 + row[4:].reshape(6, 2)) - [0.0, 50 * scale]) / scale
    np.testing.assert_allclose(faces[0].keypoints, kps, atol=1e-3)
    assert faces[0].score == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-6)


def test_detector_threshold_and_bad_input():
    det = bf.FaceDetector(lambda b: _fake_detector_outputs(3, np.zeros(16, np.float32), logit=-1.0))
    assert det.detect(np.zeros((64, 64, 3), np.uint8)) == []
    with pytest.raises(ValueError):
        det.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError):
        det.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError):
        bf.FaceDetector(lambda b: {"x": np.zeros((1, 10, 16))}).detect(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError):
        bf.FaceDetector(lambda b: {}, min_score=1.5)


def test_weighted_nms_merges_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0.5, 0, 10.5, 10]], np.float32)
    kps = np.arange(4 * 6 * 2, dtype=np.float32).reshape(4, 6, 2)
    scores = np.array([0.9, 0.6, 0.7, 0.3], np.float32)
    b, k, s = bf.weighted_nms(boxes, kps, scores, 0.3)
    assert len(b) == 2
    np.testing.assert_allclose(s, [0.9, 0.7])
    group = [0, 1, 3]
    w = scores[group] / scores[group].sum()
    np.testing.assert_allclose(b[0], (boxes[group] * w[:, None]).sum(0), rtol=1e-6)
    np.testing.assert_allclose(k[0], (kps[group] * w[:, None, None]).sum(0), rtol=1e-6)
    np.testing.assert_allclose(b[1], boxes[2])
    empty = bf.weighted_nms(np.zeros((0, 4)), np.zeros((0, 6, 2)), np.zeros(0))
    assert [x.shape for x in empty] == [(0, 4), (0, 6, 2), (0,)]


def test_iou():
    np.testing.assert_allclose(bf.iou(np.array([0, 0, 2, 2.0]), np.array([[1, 1, 3, 3.0], [5, 5, 6, 6]])), [1 / 7, 0])


# ---------------------------------------------------------------- ROI maths


def test_roi_from_box_rotation_and_side():
    roi = roi_from_box(np.array([10, 20, 50, 80.0]), np.array([0, 0.0]), np.array([1, 1.0]), 1.5)
    assert roi.centre == (30.0, 50.0) and roi.size == pytest.approx(90.0)
    assert roi.rotation == pytest.approx(np.pi / 4)  # end below-right of start: clockwise on screen
    with pytest.raises(ValueError):
        roi_from_box(np.array([0, 0, 0, 0.0]), np.zeros(2), np.ones(2), 1.5)
    r = roi_from_points(np.array([[0, 0], [10, 0], [5, 4.0]]), 0, 1, 2.0)
    assert r.rotation == 0.0 and r.size == 20.0 and r.centre == (5.0, 2.0)


def test_projection_round_trip():
    rng = np.random.default_rng(0)
    roi = Roi((120.3, 80.7), 97.0, 0.4)
    pts = rng.uniform(60, 140, size=(50, 2))
    t = image_to_crop(pts, roi, 192)
    back = crop_to_image(np.concatenate([t, np.ones((50, 1))], 1), roi, 192)
    np.testing.assert_allclose(back[:, :2], pts, atol=1e-3)
    np.testing.assert_allclose(back[:, 2], 97.0 / 192, rtol=1e-6)  # z scaled like x
    t_flipped = np.stack([192 - t[:, 0], t[:, 1], np.zeros(50)], 1)
    flipped = crop_to_image(t_flipped, roi, 192, flip=True)
    np.testing.assert_allclose(flipped[:, :2], pts, atol=1e-3)


def _blob(h, w, x, y, sigma=2.0):
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat((g * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def _centroid(img):
    g = img[..., 0].astype(np.float64)
    yy, xx = np.mgrid[0 : g.shape[0], 0 : g.shape[1]]
    return np.array([(g * xx).sum(), (g * yy).sum()]) / g.sum()


@pytest.mark.parametrize("flip", [False, True])
def test_crop_matches_the_matrix(flip):
    """A blob at image pixel p lands where image_to_crop says (pixel-index coordinates)."""
    roi = Roi((100.0, 90.0), 60.0, -0.3)
    img = _blob(200, 220, 104.0, 83.0)
    out = crop(img, roi, 64, "replicate", flip=flip)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    expect = image_to_crop(np.array([[104.0, 83.0]]), roi, 64)[0]
    if flip:
        expect[0] = 63 - expect[0]
    np.testing.assert_allclose(_centroid(out), expect, atol=0.1)


def test_rect_iou():
    a = Roi((0.0, 0.0), 2.0, 0.3)
    assert rect_iou(a, a) == pytest.approx(1.0)
    assert rect_iou(a, Roi((1.0, 0.0), 2.0, 0.0)) == pytest.approx(2 / 6)
    assert rect_iou(a, Roi((10.0, 0.0), 2.0, 0.0)) == 0.0


# ---------------------------------------------------------------- mesh + irises with fake networks

RNG = np.random.default_rng(1)
#: A fake mesh in crop pixels: random points inside the face crop, eye corners level.
FAKE_MESH = RNG.uniform(60, 132, size=(468, 3)).astype(np.float32)
FAKE_MESH[:, 2] = RNG.normal(0, 5, 468)
FAKE_MESH[[33, 133, 362, 263], :2] = [[70, 90], [88, 91], [104, 91], [122, 90]]


def _fake_landmark(batch):
    face = batch.mean() > 0.2  # blank frames have no face
    return {"conv2d_21": FAKE_MESH.reshape(1, 1, 1, -1), "conv2d_31": np.full((1, 1, 1, 1), 4.0 if face else -4.0)}


FAKE_IRIS = np.concatenate([[[32, 32, 0]], RNG.uniform(20, 44, size=(4, 3))]).astype(np.float32)
FAKE_CONTOUR = RNG.uniform(10, 54, size=(71, 3)).astype(np.float32)


def _fake_iris(batch):
    return {"output_eyes_contours_and_brows": FAKE_CONTOUR.reshape(1, -1), "output_iris": FAKE_IRIS.reshape(1, -1)}


def _fake_detector(batch):
    anchor = 512 + 6 * (3 * 8 + 3) + 2  # a centre cell of the 8x8 layer
    row = np.zeros(16, np.float32)
    row[2:4] = 40
    row[4:8] = [-10, -5, 10, -5]  # the two eyes
    return _fake_detector_outputs(anchor, row, logit=5.0 if batch.mean() > -0.6 else -5.0)


FAKE_NETS = fmesh.FaceNetworks(_fake_detector, _fake_landmark, _fake_iris)


def test_mesh_and_iris_merge_with_fake_networks():
    rgb = np.full((240, 320, 3), 180, np.uint8)
    roi = Roi((150.0, 110.0), 120.0, 0.2)
    mesh, score = fmesh.mesh_in_roi(rgb, roi, _fake_landmark)
    assert mesh.shape == (468, 3) and mesh.dtype == np.float32 and score > 0.98
    np.testing.assert_allclose(image_to_crop(mesh[:, :2], roi, 192), FAKE_MESH[:, :2], atol=1e-3)
    np.testing.assert_allclose(mesh[:, 2], FAKE_MESH[:, 2] * 120 / 192, rtol=1e-5)
    for mode in ("none", "lids", "all"):
        out = fmesh.refine(rgb, mesh, _fake_iris, mode)
        assert out.shape == (478, 3) and out.dtype == np.float32
        for eye, slot in enumerate(fmesh.IRIS_SLOTS):
            eroi = fmesh.iris_roi(mesh, eye)
            flip = fmesh.IRIS_CORNERS[eye][2]
            t = image_to_crop(out[slot : slot + 5, :2], eroi, 64)
            if flip:
                t[:, 0] = 64 - t[:, 0]
            np.testing.assert_allclose(t, FAKE_IRIS[list(fmesh.IRIS_ORDER[eye]), :2], atol=1e-3)
            lids = list(fmesh.EYE_CONTOUR_INDICES[eye][:16])
            np.testing.assert_allclose(out[slot : slot + 5, 2], mesh[lids, 2].mean(), rtol=1e-5)
        changed = np.any(out[:468] != mesh, axis=1).sum()
        assert changed == {"none": 0, "lids": 32, "all": 142}[mode]
    with pytest.raises(ValueError):
        fmesh.refine(rgb, mesh, _fake_iris, "some")


def test_tracker_state_machine_with_fake_networks():
    face = np.full((200, 200, 3), 200, np.uint8)
    blank = np.zeros_like(face)
    tracker = fmesh.FaceMeshTracker(FAKE_NETS)
    found = [len(tracker.process(f)) for f in [face] * 3 + [blank] * 4 + [face] * 2]
    assert found == [1, 1, 1, 0, 0, 0, 0, 1, 1]
    # detector: frame 0; not on the first blank frame (the face is still tracked
    # there, its flag drops it); the other 3 blank frames; the face's return.
    assert tracker.detector_runs == 1 + 3 + 1
    assert len(fmesh.FaceMesh(FAKE_NETS).in_image(face)) == 1 and fmesh.FaceMesh(FAKE_NETS).in_image(blank) == []
    with pytest.raises(ValueError):
        fmesh.FaceMeshTracker(FAKE_NETS, max_faces=0)
    with pytest.raises(ValueError):
        tracker.process(face[..., 0])


def test_associate_keeps_tracked_over_overlapping_detections():
    tracked = [Roi((50.0, 50.0), 40.0, 0.0)]
    detected = [Roi((52.0, 50.0), 40.0, 0.1), Roi((150.0, 50.0), 40.0, 0.0)]
    assert fmesh.associate(detected, tracked) == [tracked[0], detected[1]]


# ---------------------------------------------------------------- real networks (ONNX)

ONNX_NAMES = ("face_detection_short_range", "face_landmark", "iris_landmark")
needs_onnx = pytest.mark.skipif(
    not all((WEIGHTS_DIR / f"{n}.onnx").is_file() for n in ONNX_NAMES),
    reason="face ONNX models not converted yet (src/reenactor/weights/face_landmark.onnx etc.)",
)


@pytest.fixture(scope="module")
def onnx_nets():
    pytest.importorskip("onnxruntime")
    return fmesh.FaceNetworks.from_onnx(WEIGHTS_DIR)


@needs_onnx
def test_mesh_in_image_astronaut(onnx_nets, astronaut):
    faces = fmesh.mesh_in_image(astronaut, onnx_nets)
    assert len(faces) == 1
    lm = faces[0]
    assert lm.shape == (478, 3) and lm.dtype == np.float32 and np.all(np.isfinite(lm))
    # subject's right iris (468) is on the image's left, inside its eye corners.
    assert lm[468, 0] < lm[473, 0]
    assert min(lm[33, 0], lm[133, 0]) < lm[468, 0] < max(lm[33, 0], lm[133, 0])
    assert min(lm[362, 0], lm[263, 0]) < lm[473, 0] < max(lm[362, 0], lm[263, 0])
    iod = np.linalg.norm(lm[468, :2] - lm[473, :2])
    assert 40 < iod < 120  # the astronaut's face is ~150 px wide in a 512 px image


@needs_onnx
def test_tracker_redetects_after_face_disappears(onnx_nets, astronaut):
    blank = np.zeros_like(astronaut)
    frames = [astronaut] * 5 + [blank] * 10 + [astronaut] * 5
    tracker = fmesh.FaceMeshTracker(onnx_nets)
    out = [tracker.process(f) for f in frames]
    assert [len(f) for f in out] == [1] * 5 + [0] * 10 + [1] * 5
    assert tracker.detector_runs == 1 + 9 + 1  # the first blank frame is still 'tracked'
    first, last = out[4][0], out[-1][0]
    iod = np.linalg.norm(first[468, :2] - first[473, :2])
    assert np.abs(first[:, :2] - last[:, :2]).max() / iod < 0.05


def test_tracker_looks_for_new_faces_every_redetect_frames(onnx_nets, astronaut):
    every = fmesh.FaceMeshTracker(onnx_nets, max_faces=2)
    sparse = fmesh.FaceMeshTracker(onnx_nets, max_faces=2, redetect_frames=5)
    a = [every.process(astronaut) for _ in range(12)]
    b = [sparse.process(astronaut) for _ in range(12)]
    # One face, two allowed: mediapipe's rule runs the detector on every frame,
    # redetect_frames=5 on frames 0, 5 and 10; the tracked face is the same.
    assert [len(f) for f in a] == [len(f) for f in b] == [1] * 12
    assert every.detector_runs == 12 and sparse.detector_runs == 3
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    with pytest.raises(ValueError):
        fmesh.FaceMeshTracker(onnx_nets, redetect_frames=0)
