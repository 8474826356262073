"""Fast tests of the region view (:mod:`reenactor.eval.regions`): frame picks, crop boxes, strip.

Synthetic signals, landmarks and images only; nothing reads ../shared.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reenactor.errors import InputError
from reenactor.eval import metrics as M
from reenactor.eval import regions as R
from reenactor.eval.dlibface import FaceMeasurement
from reenactor.eval.imageops import letterbox
from reenactor.eval.pose import project_model, rotation_from_euler_deg

NAN = float("nan")


def face_68(scale: float = 1.0, dx: float = 0.0, dy: float = 0.0, mouth_gap: float = 6.0, eye_gap: float = 9.0) -> np.ndarray:
    """A frontal dlib-68 layout (pixel xy, about 136 px wide at scale 1), with adjustable mouth/lid gaps."""
    lm = np.zeros((68, 2))
    lm[0:17] = np.stack([np.linspace(60, 196, 17), 120 + 70 * np.sin(np.linspace(0, np.pi, 17))], 1)
    lm[17:22] = np.stack([np.linspace(75, 115, 5), np.full(5, 95.0)], 1)
    lm[22:27] = np.stack([np.linspace(141, 181, 5), np.full(5, 95.0)], 1)
    lm[27:31] = np.stack([np.full(4, 128.0), np.linspace(110, 145, 4)], 1)
    lm[31:36] = np.stack([np.linspace(113, 143, 5), np.full(5, 152.0)], 1)
    g = eye_gap / 2
    for base, cx in ((36, 98.0), (42, 158.0)):
        lm[base : base + 6] = [[cx - 15, 112], [cx - 6, 112 - g], [cx + 6, 112 - g], [cx + 15, 112], [cx + 6, 112 + g], [cx - 6, 112 + g]]
    lm[48:60] = [[103, 180], [113, 174], [122, 171], [128, 172], [134, 171], [143, 174], [153, 180], [143, 188], [134, 191], [128, 192], [122, 191], [113, 188]]
    m = mouth_gap / 2
    lm[60:68] = [[107, 180], [120, 180 - m], [128, 180 - m], [136, 180 - m], [149, 180], [136, 180 + m], [128, 180 + m], [120, 180 + m]]
    return lm * scale + np.array([dx, dy])


def meas(lm: np.ndarray | None, size=(256, 256)) -> FaceMeasurement:
    return FaceMeasurement(lm, None if lm is None else (0, 0, 1, 1), None, size)


def inside(box, w: int, h: int) -> bool:
    """A (cx, cy, side) or (cx, cy, bw, bh) box lies within [-0.5, w-0.5] x [-0.5, h-0.5]."""
    cx, cy = box[0], box[1]
    bw = box[2]
    bh = box[3] if len(box) == 4 else box[2]
    eps = 1e-9
    return cx - bw / 2 >= -0.5 - eps and cx + bw / 2 <= w - 0.5 + eps and cy - bh / 2 >= -0.5 - eps and cy + bh / 2 <= h - 0.5 + eps


# ------------------------------------------------------------------ frame picks
def test_pick_frames_known_answers_skip_frame0_and_nan():
    mouth = [0.9, 0.1, 0.2, 0.5, NAN, 0.3, 0.5]  # frame 0 is larger but skipped; tie 3/6 -> earliest
    eye = [0.0, 0.30, 0.28, NAN, 0.05, 0.29, 0.31]
    yaw = [0.0, 3.0, -12.0, 8.0, NAN, 11.9, -2.0]  # |yaw| largest at 2 (negative)
    p = R.pick_frames(mouth, eye, yaw)
    assert (p.mouth, p.blink, p.yaw) == (3, 4, 2)
    assert p.mouth_open == pytest.approx(0.5)
    assert p.eye_open == pytest.approx(0.05)
    assert p.yaw_deg == pytest.approx(-12.0)
    assert p.eye_open_median == pytest.approx(np.nanmedian(eye))
    assert p.indices == {2, 3, 4}
    assert p.as_dict()["blink"] == 4
    q = R.pick_frames(mouth, eye, yaw, skip_first=False)
    assert (q.mouth, q.blink) == (0, 0)


def test_pick_frames_degenerate_series():
    # only frame 0 measured: frame 0 is picked; nothing measured: frame 0 with NaN values
    p = R.pick_frames([0.4, NAN, NAN], [0.2, NAN, NAN], [0.0, NAN, NAN])
    assert (p.mouth, p.blink, p.yaw) == (0, 0, 0)
    p = R.pick_frames([NAN] * 3, [NAN] * 3, [NAN] * 3)
    assert (p.mouth, p.blink, p.yaw) == (0, 0, 0) and math.isnan(p.mouth_open)
    assert R.pick_frames([0.1], [0.2], [0.0]).indices == {0}
    with pytest.raises(InputError):
        R.pick_frames([0.1, 0.2], [0.1], [0.1, 0.2])
    with pytest.raises(InputError):
        R.pick_frames([], [], [])


def test_driver_signals_from_landmarks():
    seq = [face_68(), face_68(mouth_gap=20), None, face_68(eye_gap=1), face_68(mouth_gap=10)]
    sig = R.driver_signals([meas(lm) for lm in seq])
    assert np.isnan(sig["mouth_open"][2]) and np.isnan(sig["yaw"][2])
    p = R.pick_frames(sig["mouth_open"], sig["eye_open"], sig["yaw"])
    assert (p.mouth, p.blink) == (1, 3)
    assert sig["yaw"][0] == pytest.approx(0.0, abs=1e-6)
    # yaw relative to the first face: a known rotation of the PnP model is measured back
    size = (320, 240)
    lms = [project_model(np.eye(3), size), project_model(rotation_from_euler_deg(15, 0, 0), size),
           project_model(rotation_from_euler_deg(-25, 0, 0), size)]
    sig = R.driver_signals([meas(lm, size) for lm in lms])
    assert sig["yaw"][1] == pytest.approx(15, abs=1.0) and sig["yaw"][2] == pytest.approx(-25, abs=1.0)
    assert R.pick_frames(sig["mouth_open"], sig["eye_open"], sig["yaw"]).yaw == 2


# ------------------------------------------------------------------------ boxes
@pytest.mark.parametrize("size, scale, dx, dy", [((256, 256), 1.0, 0, 0), ((1920, 1080), 2.0, 700, 200), ((200, 300), 1.3, -40, 120), ((640, 360), 1.0, 470, -60)])
def test_crop_boxes_lie_inside_the_frame(size, scale, dx, dy):
    w, h = size
    lm = face_68(scale, dx, dy)
    mb = R.mouth_box(lm, w, h)
    eb = R.eyes_box(lm, w, h)
    assert inside(mb, w, h) and inside(eb, w, h)
    assert eb[2] / eb[3] == pytest.approx(R.EYES_ASPECT)
    for b in R.background_boxes(lm, w, h):
        assert inside(b, w, h)


def test_boxes_frame_their_regions():
    lm = face_68(2.0, 700, 200)
    w, h = 1920, 1080
    cx, cy, side = R.mouth_box(lm, w, h)
    mouth = lm[48:68]
    assert np.all(np.abs(mouth - [cx, cy]) < side / 2)  # the whole mouth inside, centred
    ex, ey, ew, eh = R.eyes_box(lm, w, h)
    eyes = lm[36:48]
    assert np.all(np.abs(eyes[:, 0] - ex) < ew / 2) and np.all(np.abs(eyes[:, 1] - ey) < eh / 2)
    left, right = R.background_boxes(lm, w, h)
    x0, _, x1, _ = R.face_rect(lm)
    assert left[0] + left[2] / 2 < x0 and right[0] - right[2] / 2 > x1  # beside the face, not on it
    assert not R.overlaps_face(left, lm) and not R.overlaps_face(right, lm)
    assert left[1] == pytest.approx(lm[36:48, 1].mean())  # at eye height
    # little room beside the face: the patches shrink but stay off the face
    tight = face_68()
    boxes = R.background_boxes(tight, 256, 256)
    fw = R.face_rect(tight)[2] - R.face_rect(tight)[0]
    assert all(not R.overlaps_face(b, tight) and inside(b, 256, 256) for b in boxes)
    assert all(R.BG_MIN_SIDE * fw - 1e-9 <= b[2] < R.BG_SIDE * fw for b in boxes)
    # no room at all: the patches are pushed onto the face and say so
    edge = face_68(dx=-55)
    assert all(R.overlaps_face(b, edge) and inside(b, 150, 256) for b in R.background_boxes(edge, 150, 256))


def test_fit_rect_shrinks_keeping_aspect_and_moves_inside():
    cx, cy, w, h = R.fit_rect((10, 10, 500, 200), 300, 400)
    assert w == pytest.approx(300) and h == pytest.approx(120)
    assert inside((cx, cy, w, h), 300, 400)
    assert R.fit_rect((150, 200, 100, 40), 300, 400) == (150, 200, 100, 40)
    with pytest.raises(InputError):
        R.fit_rect((0, 0, 0, 10), 10, 10)


def test_crop_rect_at_unit_scale_copies_pixels():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    # rect covering pixels x 10..29, y 5..12 (pixel-centre convention: edges at -0.5)
    out = R.crop_rect(img, (19.5, 8.5, 20, 8), (20, 8))
    assert np.array_equal(out, img[5:13, 10:30])


def test_map_points_matches_letterbox():
    pts = np.array([[0.0, 0.0], [99.0, 49.0], [50.0, 25.0]])
    assert np.array_equal(R.map_points(pts, (100, 50), (100, 50)), pts)
    _, place = letterbox(np.zeros((50, 100, 3), np.uint8), (300, 300))
    assert np.allclose(R.map_points(pts, (100, 50), (300, 300)), place.apply(pts))


# ------------------------------------------------------------------------ strip
def _frames(size, picks, lm):
    w, h = size
    out = {}
    for t in picks.indices:
        f = np.full((h, w, 3), 40 * t % 256, np.uint8)
        f[int(lm[62, 1]) - 3 : int(lm[66, 1]) + 3, int(lm[60, 0]) : int(lm[64, 0])] = (255, 0, 0)  # red mouth
        out[t] = f
    return out


def test_region_row_and_strip_sizes_labels_and_marks():
    picks = R.RegionFrames(mouth=5, blink=2, yaw=5, mouth_open=0.4, eye_open=0.05, eye_open_median=0.25, yaw_deg=-17.0)
    size = (640, 360)
    lm = face_68(1.0, 190, 20)
    frames = _frames(size, picks, lm)
    row = R.region_row("naive2d", frames, {t: meas(lm, size) for t in frames}, picks, lm, size)
    assert [t.shape for t in row.tiles] == [(R.TILE, wd, 3) for wd in R.column_widths()]
    assert row.notes == {}
    # the mouth tile is centred on the (red) mouth
    mt = row.tiles[0].astype(int)
    c = R.TILE // 2
    assert mt[c, c, 0] == 255 and mt[c, c, 1] == 0
    for key in ("mouth", "eyes", "bg_left", "bg_right"):
        assert inside(row.boxes[key], *size)
    # no face in the output: the anchor (here a different-size portrait) is mapped and the tile marked
    anchor_size = (1280, 720)
    anchor = R.map_points(lm, size, anchor_size)
    mapped = R.region_row("reenactor", frames, {t: meas(None, size) for t in frames}, picks, anchor, anchor_size)
    assert mapped.notes == {"mouth": "mapped", "eyes": "mapped"}
    assert np.allclose(mapped.boxes["mouth"], row.boxes["mouth"]) and np.allclose(mapped.boxes["bg_left"], row.boxes["bg_left"])
    with pytest.raises(InputError):
        R.region_row("x", {5: frames[5]}, {}, picks, lm, size)

    rows = [row, mapped, R.failed_row("static")]
    img = R.compose_regions(rows, picks, "item_name")
    exp_w = R.LABEL_W + sum(R.column_widths()) + len(R.COLUMNS) * R.GAP
    assert img.shape == (R.HEADER_H + 3 * (R.TILE + R.GAP), exp_w, 3) and img.dtype == np.uint8
    assert exp_w <= 1600
    # labels and headers are drawn (dark pixels in the label band of each row and in the header band)
    for i in range(3):
        y = R.HEADER_H + i * (R.TILE + R.GAP)
        assert (img[y : y + R.TILE, : R.LABEL_W] < 128).any()
    assert (img[: R.HEADER_H, R.LABEL_W :] < 128).any()
    heads = R.column_headers(picks)
    assert heads[0][0] == "mouth  t=5" and heads[1][0] == "eyes  t=2" and "-17.0" in heads[2][1]
    # tiles are placed verbatim
    x = R.LABEL_W + R.GAP
    assert np.array_equal(img[R.HEADER_H : R.HEADER_H + R.TILE, x : x + R.TILE], row.tiles[0])
    with pytest.raises(InputError):
        R.compose_regions([], picks, "t")
    bad = R.RegionRow("bad", [np.zeros((10, 10, 3), np.uint8)] * len(R.COLUMNS))
    with pytest.raises(InputError):
        R.compose_regions([bad], picks, "t")


def test_write_regions_and_markdown_section(tmp_path):
    from reenactor.eval.report import REGIONS_DIR, results_document, write_html, write_markdown, write_regions
    from reenactor.eval.runner import ItemResult

    info = {
        "name": "clip_a", "protocol": "self", "portrait": "p", "driver": "d", "why": "w", "frames": 3, "fps": 25.0,
        "driver_size": [64, 64], "portrait_size": [64, 64], "has_audio": False,
    }
    picks = R.RegionFrames(1, 2, 1)
    img = R.compose_regions([R.failed_row("static")], picks, "clip_a")
    r = ItemResult(info=info, metrics={"static": {"psnr": 30.0}}, regions=img, regions_frames=picks.as_dict())
    files = write_regions([r, ItemResult(info=dict(info, name="no_view"))], tmp_path / "out" / REGIONS_DIR)
    assert [f.name for f in files] == ["clip_a.jpg"] and files[0].stat().st_size > 1000
    doc = results_document([r], ["static"], {"protocol": "self", "max_frames": 3, "id_stride": 1, "data_dir": "x"})
    assert doc["items"][0]["regions_frames"]["blink"] == 2
    write_html(doc, [r], ["static"], tmp_path / "report.html")
    assert "<h2>Regions</h2>" in (tmp_path / "report.html").read_text()
    md = tmp_path / "docs" / "benchmarks.md"
    md.parent.mkdir()
    written = write_markdown(doc, [r], ["static"], md, tmp_path / "docs" / "benchmarks", (), "make")
    assert tmp_path / "docs" / "benchmarks" / REGIONS_DIR / "clip_a.jpg" in written
    text = md.read_text()
    assert "## Regions" in text and "](benchmarks/regions/clip_a.jpg)" in text
    assert "CPU-minutes" not in text  # results made before the CPU time was recorded
    doc["meta"] |= {"wall_seconds": 600.0, "cpu_seconds": 1500.0, "cpu_count": 2}
    write_markdown(doc, [r], ["static"], md, tmp_path / "docs" / "benchmarks", (), "make")
    assert "(about 10 min on 2 CPU cores, 25 CPU-minutes)" in md.read_text()


def test_turned_head_does_not_inflate_the_mouth_opening():
    """A narrower (turned) face has a shorter IOD; the clip's median IOD keeps the pick on the widest gap in pixels."""
    def squeeze_x(lm, k):
        out = lm.copy()
        out[:, 0] = 128 + (out[:, 0] - 128) * k
        return out

    seq = [face_68(mouth_gap=6), face_68(mouth_gap=14), squeeze_x(face_68(mouth_gap=12), 0.6), face_68(mouth_gap=6)]
    per_frame = [M.expression_features(lm)["mouth_open"] for lm in seq]
    assert int(np.argmax(per_frame)) == 2  # per-frame IOD would pick the turned frame
    sig = R.driver_signals([meas(lm) for lm in seq])
    assert R.pick_frames(sig["mouth_open"], sig["eye_open"], sig["yaw"]).mouth == 1
    assert sig["mouth_open"][1] == pytest.approx(14 / 60)  # eye centres 60 px apart
