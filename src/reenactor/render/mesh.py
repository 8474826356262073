"""Mesh geometry of the warp: facing, winding, the lash band and the head ring.

The warper's vertex array is the 481 points of
:func:`reenactor.face.topology.with_virtual_points` (landmarks plus eye and
mouth fan centres), then the lash-line vertices (:data:`LASH_FIRST` ..
:data:`N_WARP_VERTICES`), then the head ring (:data:`HEAD_FIRST` ..). All
positions are crop pixels (x right, y down, z away from the viewer).
"""

from __future__ import annotations

import numpy as np

from reenactor.face import topology as T
from reenactor.numeric import smoothstep

#: Portrait-side geometry kept by :func:`source_memo` (a few portraits' worth).
_MEMO: dict = {}
_MEMO_SIZE = 32


def source_memo(name: str, source: np.ndarray, make):
    """``make()``, computed once per portrait-side array ``source`` (keyed by ``name`` and
    its bytes) and returned read-only: the portrait half of a frame's geometry stays the
    same from frame to frame, only the target moves."""
    key = (name, source.shape, source.dtype.str, hash(np.ascontiguousarray(source).tobytes()))
    hit = _MEMO.get(key)
    if hit is None:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        hit = make()
        for a in hit if isinstance(hit, tuple) else (hit,):
            if isinstance(a, np.ndarray):
                a.setflags(write=False)
        _MEMO[key] = hit
    return hit


def triangle_facing(points: np.ndarray, tris: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """Cosine between each triangle's outward normal and the view direction.

    Args:
        points: (N, 3) vertices, pixels (x right, y down, z away from viewer).
        tris: (T, 3) vertex indices.
        outward: (T,) +1/-1 winding signs making the normals point outwards.

    Returns:
        (T,) float64 in [-1, 1]; > 0 means the triangle faces the camera.
    """
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    u, v = b - a, c - a
    # The cross product written out (np.cross and norm(axis=1) on (T, 3) cost 5x more).
    nx = u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1]
    ny = u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2]
    nz = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    return -nz * outward / (np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12)


def orient_consistently(tris: np.ndarray) -> np.ndarray:
    """Re-order triangle vertices so that the whole mesh has one winding.

    Neighbouring triangles of an orientable surface traverse their shared edge
    in opposite directions; a breadth-first walk over shared edges flips the
    triangles that do not. The face mesh (a disc with holes closed by fans) is
    orientable, so afterwards every normal points to the same side of the
    surface, and one global sign (see :func:`outward_signs`) tells front from
    back for every triangle, including the underside of the nose.

    Args:
        tris: (T, 3) int vertex indices.

    Returns:
        (T, 3) int32, same triangles, consistent winding.
    """
    tris = np.array(tris, dtype=np.int32)
    by_edge: dict[tuple[int, int], list[int]] = {}
    for k, t in enumerate(tris.tolist()):
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            by_edge.setdefault((min(a, b), max(a, b)), []).append(k)
    done = np.zeros(len(tris), bool)
    for seed in range(len(tris)):
        if done[seed]:
            continue
        done[seed] = True
        queue = [seed]
        while queue:
            k = queue.pop()
            t = tris[k].tolist()
            directed = {(t[0], t[1]), (t[1], t[2]), (t[2], t[0])}
            for a, b in directed:
                for n in by_edge[(min(a, b), max(a, b))]:
                    if done[n]:
                        continue
                    u = tris[n].tolist()
                    if (a, b) in {(u[0], u[1]), (u[1], u[2]), (u[2], u[0])}:
                        tris[n] = tris[n][::-1]  # same direction: flip
                    done[n] = True
                    queue.append(n)
    return tris


def outward_signs(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """(T,) winding signs making normals point out of the face, towards a viewer in front.

    ``tris`` must have one consistent winding (:func:`orient_consistently`);
    the sign is the one under which the face, summed over its area, faces the
    camera in ``points`` (N >= 478, pixels; a portrait always shows its face).
    """
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    n = np.cross(b - a, c - a)
    sign = -1.0 if n[:, 2].sum() > 0 else 1.0  # facing = -n_z * sign > 0 for most
    return np.full(len(tris), sign)


# Lash line vertices: one per upper-lid point, between the lid and the ring
# above it (indices 481.. in the warper's vertex array: right eye, then left).
_LIDS = ((T.RIGHT_UPPER_LID, T.RIGHT_LID_RING), (T.LEFT_UPPER_LID, T.LEFT_LID_RING))
_N_LID = len(T.RIGHT_UPPER_LID)
LASH_FIRST = T.N_WITH_VIRTUAL
N_WARP_VERTICES = LASH_FIRST + 2 * _N_LID
LASH_MIRROR = tuple(range(LASH_FIRST + _N_LID, N_WARP_VERTICES)) + tuple(range(LASH_FIRST, LASH_FIRST + _N_LID))


def lash_band_triangles(tris: np.ndarray) -> np.ndarray:
    """Re-triangulate the upper-lid bands with a lash line in the middle.

    The mesh's 16 triangles between each upper lid and the ring above it are
    replaced by two strips: lid -> lash line (the lashes and lid margin, moved
    rigidly with the lid) and lash line -> ring (lid skin, which stretches).
    A closing eye then keeps a crisp lash line where the lids meet instead of
    a smeared dark band.

    Args:
        tris: (T, 3) triangles over the 481 vertices of
            :func:`reenactor.face.topology.with_virtual_points`.

    Returns:
        (T + 16, 3) int32 triangles over :data:`N_WARP_VERTICES` vertices.
    """
    drop = set()
    for lid, ring in _LIDS:
        band = set(lid) | set(ring)
        drop |= {k for k, t in enumerate(tris.tolist()) if set(t) <= band}
    keep = [t for k, t in enumerate(tris.tolist()) if k not in drop]
    new = []
    for e, (lid, ring) in enumerate(_LIDS):
        lash = [LASH_FIRST + e * _N_LID + i for i in range(_N_LID)]
        for i in range(_N_LID - 1):
            for lo, hi in ((lid, lash), (lash, ring)):
                new.append((lo[i], lo[i + 1], hi[i + 1]))
                new.append((lo[i], hi[i + 1], hi[i]))
    return np.array(keep + new, dtype=np.int32)


def with_lash_points(src_v: np.ndarray, dst_v: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Append the lash-line vertices to source and target vertex arrays.

    In the source the lash line lies ``fraction`` of the way from each upper
    lid point to the ring point above it. In the target it stays at that
    fraction of the band (the plain piecewise-affine stretch) while the eye is
    open or half closed, and moves to the source's lid-to-lash distance
    (scaled with the head, at most 90% of the band) as the eye closes fully,
    so a closed eye shows a crisp lash line instead of a smeared band.

    Args:
        src_v, dst_v: (481, 3) vertices from ``with_virtual_points``, crop px.
        fraction: lash band height as a fraction of the lid-to-ring distance.

    Returns:
        (src, dst), each (N_WARP_VERTICES, 3) float64.
    """
    from reenactor.face.pose import head_axes

    src_l, iod_s, gap_s, h_s = source_memo(f"lash:{fraction}", src_v, lambda: _source_lash(src_v, fraction))
    scale = T.inter_ocular(dst_v) / max(iod_s, 1e-6)
    up_d = head_axes(dst_v[: T.N_LANDMARKS])[:, 1]
    dst_l = []
    for e, ((lid, ring), pairs) in enumerate(zip(_LIDS, (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS))):
        ld, rd = dst_v[list(lid)], dst_v[list(ring)]
        up, lo = [p[0] for p in pairs], [p[1] for p in pairs]
        gap_d = float(((dst_v[lo] - dst_v[up]) @ up_d).mean())
        closure = 1.0 - gap_d / max(gap_s[e] * scale, 1e-6)
        w = float(smoothstep(np.array(closure), 0.7, 0.95))
        h = h_s[e] * scale
        band = np.linalg.norm((rd - ld)[:, :2], axis=1)
        rigid = np.minimum(h, 0.9 * band) / np.maximum(band, 1e-6)
        f = (1.0 - w) * fraction + w * rigid
        dst_l.append(ld + f[:, None] * (rd - ld))
    return np.concatenate([src_v, src_l]), np.concatenate([dst_v, *dst_l])


def _source_lash(src_v: np.ndarray, fraction: float) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """The portrait half of :func:`with_lash_points`: (lash points of both eyes (2n, 3),
    inter-ocular distance, per eye the lid gap along the head's up axis (2,), and per eye
    the lash band heights (2, n)), crop px."""
    from reenactor.face.pose import head_axes

    up_s = head_axes(src_v[: T.N_LANDMARKS])[:, 1]
    points, gaps, heights = [], [], []
    for (lid, ring), pairs in zip(_LIDS, (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS)):
        ls, rs = src_v[list(lid)], src_v[list(ring)]
        points.append(ls + fraction * (rs - ls))
        up, lo = [p[0] for p in pairs], [p[1] for p in pairs]
        gaps.append(float(((src_v[lo] - src_v[up]) @ up_s).mean()))
        heights.append(fraction * np.linalg.norm((rs - ls)[:, :2], axis=1))
    return np.concatenate(points), float(T.inter_ocular(src_v)), np.array(gaps), np.array(heights)


HEAD_FIRST = N_WARP_VERTICES
HEAD_MIRROR = tuple(HEAD_FIRST + T.HEAD_RING_BASE.index(T.MIRROR[v]) for v in T.HEAD_RING_BASE)


def head_ring_triangles() -> np.ndarray:
    """(2 * (N - 1), 3) triangles of the strip between the upper face outline and the head ring."""
    base = T.HEAD_RING_BASE
    ring = [HEAD_FIRST + i for i in range(len(base))]
    tris = []
    for i in range(len(base) - 1):
        tris.append((base[i], base[i + 1], ring[i + 1]))
        tris.append((base[i], ring[i + 1], ring[i]))
    return np.array(tris, dtype=np.int32)


def with_head_ring(src_v: np.ndarray, dst_v: np.ndarray, outward: float, back: float) -> tuple[np.ndarray, np.ndarray]:
    """Append head-ring vertices (hair and sides of the head) to both arrays.

    In the portrait each ring vertex lies outside its outline point, pushed
    ``outward`` face widths away from the head centre in the face plane and
    ``back`` face widths behind it (a skull-like surface). In the target the
    ring follows the head's rigid 3D motion (a similarity fitted on the stable
    points), so a turning head shows more of one side and hides the other.

    Args:
        src_v, dst_v: (N, 3) vertex arrays (the first 478 are landmarks), crop px.
        outward, back: ring offsets in face widths.

    Returns:
        (src, dst), each (N + len(HEAD_RING_BASE), 3) float64.
    """
    from reenactor.face.pose import fit_similarity

    lm = src_v[: T.N_LANDMARKS]
    src_ring = source_memo(f"ring:{outward}:{back}", lm, lambda: _source_ring(lm, outward, back))
    dst_ring = fit_similarity(lm, dst_v[: T.N_LANDMARKS]).apply(src_ring)
    return np.concatenate([src_v, src_ring]), np.concatenate([dst_v, dst_ring])


def _source_ring(lm: np.ndarray, outward: float, back: float) -> np.ndarray:
    """The portrait's head-ring vertices (see :func:`with_head_ring`), (len(HEAD_RING_BASE), 3) crop px."""
    from reenactor.face.pose import head_axes

    centre = lm[list(T.STABLE_POINTS)].mean(0)
    axes = head_axes(lm)
    head = (lm - centre) @ axes
    width = float(np.linalg.norm(head[234, :2] - head[454, :2]))
    base = head[list(T.HEAD_RING_BASE)]
    d = base[:, :2] / (np.linalg.norm(base[:, :2], axis=1, keepdims=True) + 1e-9)
    ring = base.copy()
    ring[:, :2] += outward * width * d
    ring[:, 2] += back * width
    return centre + ring @ axes.T


def fit_affine_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2D affine ``dst ≈ A @ [src, 1]``; (N, 2) -> (2, 3)."""
    x = np.hstack([src, np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(x, dst, rcond=None)
    return sol.T


def triangle_affines(tris: np.ndarray, dst: np.ndarray, src: np.ndarray, src_tris: np.ndarray | None = None) -> np.ndarray:
    """(T, 2, 3) float64 affines mapping each target triangle of ``tris`` onto its source.

    ``dst``, ``src``: (V, 2) vertex positions (crop px).

    ``src_tris`` (default: the same triangles) names the source vertices of
    each target triangle, vertex for vertex (the mirror layer passes the
    mirrored triangles). Closed form (Cramer's rule); degenerate target
    triangles get the translation-free identity, they cover no pixel anyway.
    """
    tri = tris
    x1, y1 = dst[tri[:, 0], 0], dst[tri[:, 0], 1]
    x2, y2 = dst[tri[:, 1], 0], dst[tri[:, 1], 1]
    x3, y3 = dst[tri[:, 2], 0], dst[tri[:, 2], 1]
    det = x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2)
    ok = np.abs(det) > 1e-9
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    # Rows of the inverse of [[x1, y1, 1], [x2, y2, 1], [x3, y3, 1]] (as columns), written
    # out per column: ~40 operations on (T,) arrays instead of stacks and reductions.
    ia = ((y2 - y3) * inv, (y3 - y1) * inv, (y1 - y2) * inv)
    ib = ((x3 - x2) * inv, (x1 - x3) * inv, (x2 - x1) * inv)
    ic = ((x2 * y3 - x3 * y2) * inv, (x3 * y1 - x1 * y3) * inv, (x1 * y2 - x2 * y1) * inv)
    st = tri if src_tris is None else src_tris
    aff = np.empty((len(tri), 2, 3))
    for c in range(2):
        s0, s1, s2 = src[st[:, 0], c], src[st[:, 1], c], src[st[:, 2], c]
        for k, row in enumerate((ia, ib, ic)):
            aff[:, c, k] = row[0] * s0 + row[1] * s1 + row[2] * s2
    aff[~ok] = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return aff


def triangle_tables(tris: np.ndarray, src_v: np.ndarray, dst_v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face-raster id + 1 (row 0: no triangle, all zeros): the (T + 1, 6) float32 affine
    displacement (source - target) of target crop pixels (x row, then y row), and the
    (T + 1, 2) float32 least and largest displacements (x, y) of the triangle's corners
    (:func:`reenactor.render.warp_layers.mesh_displacement`).

    Args:
        tris: (T, 3) triangles; src_v, dst_v: (V, 2+) vertices, crop px.
    """
    n = len(tris)
    aff = np.zeros((n + 1, 6), np.float32)
    aff[1:] = triangle_affines(tris, dst_v[:, :2], src_v[:, :2]).reshape(n, 6)
    aff[1:, 0] -= 1.0
    aff[1:, 4] -= 1.0
    shift = src_v[:, :2] - dst_v[:, :2]
    c0, c1, c2 = shift[tris[:, 0]], shift[tris[:, 1]], shift[tris[:, 2]]
    lo, hi = np.zeros((n + 1, 2), np.float32), np.zeros((n + 1, 2), np.float32)
    lo[1:] = np.minimum(np.minimum(c0, c1), c2)  # not .min(1) over (T, 3, 2): 15x slower
    hi[1:] = np.maximum(np.maximum(c0, c1), c2)
    return aff, lo, hi
