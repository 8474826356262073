"""Topology of mediapipe's 478-point face mesh: named index sets and triangles.

Index conventions (mediapipe Face Mesh, ``refine_landmarks=True``):

* 0..467 are the face mesh vertices, 468..477 the irises
  (468 = centre of the subject's *right* iris, i.e. the eye on the image's left
  in an unmirrored photo, 469..472 its rim; 473 = left iris centre, 474..477 rim).
* "right"/"left" below always mean the subject's right/left.

The triangle list is rebuilt from mediapipe's tessellation edge list (the
package ships edges, not triangles): every 3-clique of the edge graph is a face
except a few separating triangles, which are removed. The mesh has holes at the
eyes and the mouth; they are closed with fans around three *virtual* vertices
(478 = right-eye centre, 479 = left-eye centre, 480 = inner-mouth centre), which
:func:`with_virtual_points` appends as the mean of the hole's contour.
"""

from __future__ import annotations

import itertools
from collections import Counter
from functools import lru_cache

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

# Virtual vertices appended by with_virtual_points().
VIRTUAL_RIGHT_EYE = 478
VIRTUAL_LEFT_EYE = 479
VIRTUAL_MOUTH = 480
N_WITH_VIRTUAL = 481


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
def face_oval() -> tuple[int, ...]:
    """Indices of the face outline (36 points) as an ordered closed loop."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    return _ordered_loop(frozenset(tuple(sorted(e)) for e in fmc.FACEMESH_FACE_OVAL))


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """Triangles of the face mesh including the eye and mouth fans.

    Returns:
        (T, 3) int32 indices into a (481, ·) landmark array produced by
        :func:`with_virtual_points`.
    """
    from mediapipe.python.solutions import face_mesh_connections as fmc

    edges = {tuple(sorted(e)) for e in fmc.FACEMESH_TESSELATION}
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
        (481, D) float array: the input followed by the means of the right-eye,
        left-eye and inner-lip loops.
    """
    if landmarks.shape[0] != N_LANDMARKS:
        raise ValueError(f"expected {N_LANDMARKS} landmarks, got {landmarks.shape[0]}")
    extra = np.stack(
        [
            landmarks[list(RIGHT_EYE_LOOP)].mean(0),
            landmarks[list(LEFT_EYE_LOOP)].mean(0),
            landmarks[list(INNER_LIP_LOOP)].mean(0),
        ]
    )
    return np.concatenate([landmarks, extra], axis=0)


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners (33, 263), in the landmarks' units."""
    return float(np.linalg.norm(landmarks[263, :2] - landmarks[33, :2]))
