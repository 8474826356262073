"""Topology of mediapipe's 478-point face mesh: named index sets and triangles.

Index conventions (mediapipe Face Mesh, ``refine_landmarks=True``):

* 0..467 are the face mesh vertices, 468..477 the irises
  (468 = centre of the subject's *right* iris, i.e. the eye on the image's left
  in an unmirrored photo, 469..472 its rim; 473 = left iris centre, 474..477 rim).
* "right"/"left" below always mean the subject's right/left.

The triangle list is rebuilt from mediapipe's tessellation edge list
(``mesh_edges.json``; mediapipe ships edges, not triangles): every 3-clique of the edge graph is a face
except a few separating triangles, which are removed. The mesh has holes at the
eyes and the mouth; they are closed with fans around three *virtual* vertices
(478 = right-eye centre, 479 = left-eye centre, 480 = inner-mouth centre), which
:func:`with_virtual_points` appends: the mean of the hole's contour, moved
towards the iris centre for the eyes, so a warp carries the iris with the gaze.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

N_LANDMARKS = 478
N_MESH = 468

RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_IRIS_CENTER = 468
LEFT_IRIS_CENTER = 473

# Eye openings as closed loops: outer corner, along the upper lid, inner corner,
# back along the lower lid.
RIGHT_EYE_LOOP = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE_LOOP = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
# (upper, lower) eyelid pairs facing each other, outer corner to inner corner.
RIGHT_LID_PAIRS = ((246, 7), (161, 163), (160, 144), (159, 145), (158, 153), (157, 154), (173, 155))
LEFT_LID_PAIRS = ((466, 249), (388, 390), (387, 373), (386, 374), (385, 380), (384, 381), (398, 382))
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)

# Inner-lip loop (the mouth opening), from the right corner along the upper lip.
INNER_LIP_LOOP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
OUTER_LIP_LOOP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
# (upper, lower) inner-lip pairs facing each other.
INNER_LIP_PAIRS = ((191, 95), (80, 88), (81, 178), (82, 87), (13, 14), (312, 317), (311, 402), (310, 318), (415, 324))
MOUTH_CORNERS = (61, 291)

RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)

FOREHEAD_TOP = 10
CHIN = 152
NOSE_TIP = 1
NOSE_BRIDGE = 168

# Points that barely move with expression: used for the rigid head fit.
STABLE_POINTS = (
    10, 151, 9, 8, 168, 6, 197, 195, 5, 4,
    109, 338, 67, 297, 108, 337,
    33, 133, 362, 263,
    127, 356, 234, 454, 93, 323, 132, 361,
    116, 345, 123, 352, 50, 280, 101, 330,
)

# Upper eyelids (outer corner -> inner corner, the upper half of the eye loops)
# and the mesh ring just above each, point for point: the band between them
# holds the lashes and the lid margin.
RIGHT_UPPER_LID = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_LID_RING = (130, 247, 30, 29, 27, 28, 56, 190, 243)
LEFT_UPPER_LID = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_LID_RING = (359, 467, 260, 259, 257, 258, 286, 414, 463)

# Upper part of the face outline, in loop order from the subject's right ear
# over the forehead to the left ear (the oval above the nose tip): a ring of
# head vertices is built outside it so hair and the sides of the head turn in
# 3D with the face. The jaw below is left to the smooth outer field (it moves
# with the mouth, and the neck does not turn with the head).
HEAD_RING_BASE = (93, 234, 127, 162, 21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251, 389, 356, 454, 323)

# Virtual vertices appended by with_virtual_points().
VIRTUAL_RIGHT_EYE = 478
VIRTUAL_LEFT_EYE = 479
VIRTUAL_MOUTH = 480
N_WITH_VIRTUAL = 481

# Left-right mirror of every landmark: MIRROR[i] is the point symmetric to i
# across the face's midline (midline points map to themselves; irises swap).
# Generated once by matching the x-reflected mean head-frame shape of 1,070
# frontal frames of the shared clips to itself (Hungarian assignment; largest
# residual 0.012 inter-ocular distances), so the mesh is symmetric to within
# that. MIRROR[MIRROR[i]] == i.
MIRROR = (
    0, 1, 2, 248, 4, 5, 6, 249, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 260, 261,
    262, 263, 264, 265, 266, 267, 268, 269, 270, 271, 272, 273, 274, 275, 276, 277,
    278, 279, 280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292, 293,
    294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309,
    310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322, 323, 94, 324,
    325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 336, 337, 338, 339, 340,
    341, 342, 343, 344, 345, 346, 347, 348, 349, 350, 351, 352, 353, 354, 355, 356,
    357, 358, 359, 360, 361, 362, 363, 364, 365, 366, 367, 368, 369, 370, 371, 372,
    373, 374, 375, 376, 377, 378, 379, 151, 152, 380, 381, 382, 383, 384, 385, 386,
    387, 388, 389, 390, 164, 391, 392, 393, 168, 394, 395, 396, 397, 398, 399, 175,
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
    416, 417, 418, 195, 419, 197, 420, 199, 200, 421, 422, 423, 424, 425, 426, 427,
    428, 429, 430, 431, 432, 433, 434, 435, 436, 437, 438, 439, 440, 441, 442, 443,
    444, 445, 446, 447, 448, 449, 450, 451, 452, 453, 454, 455, 456, 457, 458, 459,
    460, 461, 462, 463, 464, 465, 466, 467, 3, 7, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
    58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73,
    74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,
    90, 91, 92, 93, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106,
    107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122,
    123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138,
    139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 153, 154, 155, 156,
    157, 158, 159, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 173, 174,
    176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
    192, 193, 194, 196, 198, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211,
    212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227,
    228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243,
    244, 245, 246, 247, 473, 476, 475, 474, 477, 468, 471, 470, 469, 472,
)
#: MIRROR extended to the virtual vertices (the eye centres swap).
MIRROR_WITH_VIRTUAL = MIRROR + (VIRTUAL_LEFT_EYE, VIRTUAL_RIGHT_EYE, VIRTUAL_MOUTH)


def _ordered_loop(edges: frozenset) -> tuple[int, ...]:
    """Walk a set of undirected edges that forms one closed loop."""
    adj: dict[int, list[int]] = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    start = min(adj)
    loop = [start]
    prev, cur = None, start
    while True:
        nxt = [n for n in adj[cur] if n != prev]
        if not nxt or nxt[0] == start:
            break
        prev, cur = cur, nxt[0]
        loop.append(cur)
    return tuple(loop)


@lru_cache(maxsize=1)
def _mesh_edges() -> dict[str, list[list[int]]]:
    """mediapipe's edge lists ("tesselation", "face_oval"), each edge (i, j) with i < j.

    Stored in ``mesh_edges.json`` by ``scripts/convert_face_models.py`` from
    mediapipe 0.10.21's ``face_mesh_connections`` (Apache-2.0).
    """
    return json.loads((Path(__file__).with_name("mesh_edges.json")).read_text())


@lru_cache(maxsize=1)
def face_oval() -> tuple[int, ...]:
    """Indices of the face outline (36 points) as an ordered closed loop."""
    return _ordered_loop(frozenset(tuple(e) for e in _mesh_edges()["face_oval"]))


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """Triangles of the face mesh including the eye and mouth fans.

    Returns:
        (T, 3) int32 indices into a (481, ·) landmark array produced by
        :func:`with_virtual_points`.
    """
    edges = {tuple(e) for e in _mesh_edges()["tesselation"]}
    adj: dict[int, set[int]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    tris = set()
    for a, b in edges:
        for c in adj[a] & adj[b]:
            tris.add(tuple(sorted((a, b, c))))
    use = Counter()
    for t in tris:
        for e in itertools.combinations(t, 2):
            use[e] += 1
    # A separating 3-cycle is not a face: all three of its edges end up shared
    # by three candidate triangles.
    faces = [t for t in tris if not all(use[e] == 3 for e in itertools.combinations(t, 2))]
    fans = []
    for loop, centre in (
        (RIGHT_EYE_LOOP, VIRTUAL_RIGHT_EYE),
        (LEFT_EYE_LOOP, VIRTUAL_LEFT_EYE),
        (INNER_LIP_LOOP, VIRTUAL_MOUTH),
    ):
        for i in range(len(loop)):
            fans.append((loop[i], loop[(i + 1) % len(loop)], centre))
    return np.array(sorted(faces) + fans, dtype=np.int32)


def with_virtual_points(landmarks: np.ndarray) -> np.ndarray:
    """Append the three virtual hole-centre vertices.

    Args:
        landmarks: (478, D) float array (D = 2 or 3), any coordinate frame.

    Returns:
        (481, D) float array: the input followed by the right- and left-eye
        fan centres (:func:`_eye_centre`) and the mean of the inner-lip loop.
    """
    if landmarks.shape[0] != N_LANDMARKS:
        raise ValueError(f"expected {N_LANDMARKS} landmarks, got {landmarks.shape[0]}")
    extra = np.stack(
        [
            _eye_centre(landmarks, RIGHT_EYE_LOOP, RIGHT_EYE_CORNERS, RIGHT_LID_PAIRS, RIGHT_IRIS_CENTER),
            _eye_centre(landmarks, LEFT_EYE_LOOP, LEFT_EYE_CORNERS, LEFT_LID_PAIRS, LEFT_IRIS_CENTER),
            landmarks[list(INNER_LIP_LOOP)].mean(0),
        ]
    )
    return np.concatenate([landmarks, extra], axis=0)


#: How far the eye fan's centre follows the iris, as fractions of the eye
#: width (along the eye) and of the lid gap (across it), from the contour mean.
FAN_REACH = (0.25, 0.25)


def _eye_centre(landmarks: np.ndarray, loop, corners, lid_pairs, iris: int) -> np.ndarray:
    """Centre vertex of an eye's fan: the contour mean moved towards the iris centre.

    The offset is clamped to :data:`FAN_REACH` (so the centre stays well
    inside the opening and the fan never folds), which makes the fan carry
    the iris with the gaze when the warp moves the iris points.
    """
    centre = landmarks[list(loop)].mean(0)
    a, b = landmarks[corners[0], :2], landmarks[corners[1], :2]
    width = float(np.linalg.norm(b - a))
    if width < 1e-6:
        return centre
    ax = (b - a) / width
    nrm = np.array([-ax[1], ax[0]])
    gap = float(np.mean([abs((landmarks[lo, :2] - landmarks[up, :2]) @ nrm) for up, lo in lid_pairs]))
    d = landmarks[iris, :2] - centre[:2]
    along = float(np.clip(d @ ax, -FAN_REACH[0] * width, FAN_REACH[0] * width))
    across = float(np.clip(d @ nrm, -FAN_REACH[1] * gap, FAN_REACH[1] * gap))
    out = np.array(centre, dtype=np.float64)
    out[:2] = centre[:2] + along * ax + across * nrm
    return out


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners (33, 263), in the landmarks' units."""
    return float(np.linalg.norm(landmarks[263, :2] - landmarks[33, :2]))
