"""Dense landmark-driven warp of the whole face crop.

The warp is a *backward map*: for every output pixel, the position in the
portrait crop to sample (``cv2.remap`` convention, pixel xy, centres at
integers). It is assembled from two fields:

* **inside the face**: a piecewise-affine map over mediapipe's face mesh
  (plus eye and mouth fans), rasterised at full resolution and drawn back to
  front by depth; triangles whose 3D normal faces away from the camera after
  the motion are not drawn, so a turning head hides its far cheek and the far
  side of the nose instead of folding them;
* **outside the face**: a smooth field at low resolution made of the head's
  rigid motion (a 2D affine fitted on stable points) fading with distance from
  the face (hair and ears follow, the neck follows less, the crop border not
  at all), plus the face contour's own motion (jaw opening) spread outwards.

The two are blended by a feathered face mask. Where they disagree at the
face outline (an occluding edge: the far cheek of a turned head), the
feather blends two *samples*, one at each field (:class:`SampleLayer`
``seam``), since the mean of two very different displacements samples a
smeared strip of whatever lies between them, a ghost outline beside the face.

**Revealed regions** (:class:`SampleLayer` ``mirror``): a triangle that the portrait
shows edge-on (the side of the nose or the cheek near the outline of a
frontal face) but that faces the camera after the head turns would be
sampled from a few squeezed pixels. Where its mirror triangle (across the
face's midline, :data:`reenactor.face.topology.MIRROR`) is better seen in the
portrait, the texture is taken from there instead, reflected, and its
low-frequency shading is corrected to that of the side it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.config import RenderConfig
from reenactor.face import topology as T
from reenactor.face.pose import fit_similarity
from reenactor.numeric import smoothstep


@dataclass(frozen=True)
class SampleLayer:
    """A second sampling of part of the crop, blended over the main one.

    Used for the mirrored fill of revealed regions (``WarpMaps.mirror``:
    samples from the mirrored side of the face) and for the face outline
    where the mesh and outer fields part (``WarpMaps.seam``: samples at the
    outer field).

    Attributes:
        map_x, map_y: (S, S) float32 backward map of the second sampling.
        weight: (S, S) float32 in [0, 1], how much of the second sample to use.
        box: (x0, y0, x1, y1) crop-pixel box holding every non-zero weight.
    """

    map_x: np.ndarray
    map_y: np.ndarray
    weight: np.ndarray
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class WarpMaps:
    """Everything one frame's warp samples.

    Attributes:
        map_x, map_y: (S, S) float32 main backward map (``cv2.remap``
            convention, crop pixels).
        mirror: mirrored fill of revealed regions, blended first, or None.
        seam: outer-field samples along occluding face outlines, or None.
    """

    map_x: np.ndarray
    map_y: np.ndarray
    mirror: SampleLayer | None
    seam: SampleLayer | None


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
    n = np.cross(b - a, c - a) * outward[:, None]
    return -n[:, 2] / (np.linalg.norm(n, axis=1) + 1e-12)


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

    scale = T.inter_ocular(dst_v) / max(T.inter_ocular(src_v), 1e-6)
    up_s = head_axes(src_v[: T.N_LANDMARKS])[:, 1]
    up_d = head_axes(dst_v[: T.N_LANDMARKS])[:, 1]
    src_l, dst_l = [], []
    for (lid, ring), pairs in zip(_LIDS, (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS)):
        ls, rs = src_v[list(lid)], src_v[list(ring)]
        ld, rd = dst_v[list(lid)], dst_v[list(ring)]
        src_l.append(ls + fraction * (rs - ls))
        up, lo = [p[0] for p in pairs], [p[1] for p in pairs]
        gap_s = float(((src_v[lo] - src_v[up]) @ up_s).mean()) * scale
        gap_d = float(((dst_v[lo] - dst_v[up]) @ up_d).mean())
        closure = 1.0 - gap_d / max(gap_s, 1e-6)
        w = float(smoothstep(np.array(closure), 0.7, 0.95))
        h = fraction * np.linalg.norm((rs - ls)[:, :2], axis=1) * scale
        band = np.linalg.norm((rd - ld)[:, :2], axis=1)
        rigid = np.minimum(h, 0.9 * band) / np.maximum(band, 1e-6)
        f = (1.0 - w) * fraction + w * rigid
        dst_l.append(ld + f[:, None] * (rd - ld))
    return np.concatenate([src_v, *src_l]), np.concatenate([dst_v, *dst_l])


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
    from reenactor.face.pose import fit_similarity, head_axes

    lm = src_v[: T.N_LANDMARKS]
    centre = lm[list(T.STABLE_POINTS)].mean(0)
    axes = head_axes(lm)
    head = (lm - centre) @ axes
    width = float(np.linalg.norm(head[234, :2] - head[454, :2]))
    base = head[list(T.HEAD_RING_BASE)]
    d = base[:, :2] / (np.linalg.norm(base[:, :2], axis=1, keepdims=True) + 1e-9)
    ring = base.copy()
    ring[:, :2] += outward * width * d
    ring[:, 2] += back * width
    src_ring = centre + ring @ axes.T
    dst_ring = fit_similarity(lm, dst_v[: T.N_LANDMARKS]).apply(src_ring)
    return np.concatenate([src_v, src_ring]), np.concatenate([dst_v, dst_ring])


def fit_affine_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2D affine ``dst ≈ A @ [src, 1]``; (N, 2) -> (2, 3)."""
    x = np.hstack([src, np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(x, dst, rcond=None)
    return sol.T


class MeshWarper:
    """Builds backward maps for a square crop of side ``cfg.work_size``.

    Args:
        cfg: rendering options (sizes, falloffs, feathering).
    """

    def __init__(self, cfg: RenderConfig | None = None) -> None:
        self.cfg = cfg or RenderConfig()
        n = self.cfg.work_size
        self.size = n
        self.lash_band = self.cfg.lash_fraction > 0
        self.tris = lash_band_triangles(T.mesh_triangles()) if self.lash_band else T.mesh_triangles()
        self.head_ring = self.cfg.head_ring_outward > 0
        if self.head_ring:
            self.tris = np.concatenate([self.tris, head_ring_triangles()])
        self.tris = orient_consistently(self.tris)
        gx, gy = np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32))
        self.grid_x, self.grid_y = gx, gy
        g = self.cfg.field_size
        step = n / g
        c = (np.arange(g, dtype=np.float64) + 0.5) * step - 0.5
        cx, cy = np.meshgrid(c, c)
        self.coarse = np.stack([cx.ravel(), cy.ravel()], 1)  # (g*g, 2) crop px
        self.coarse32 = self.coarse.astype(np.float32)
        self.coarse_sq = (self.coarse32**2).sum(1)
        self.coarse_step = step
        m = self.cfg.border_margin
        border = np.minimum(np.minimum(cx, n - 1 - cx), np.minimum(cy, n - 1 - cy))
        self.border_w = smoothstep(border, 0.25 * m, m).ravel()
        self.oval = np.array(T.face_oval())
        if self.head_ring:
            # The outer field continues from the head ring where there is one.
            where = {v: i for i, v in enumerate(T.HEAD_RING_BASE)}
            self.oval = np.array([HEAD_FIRST + where[v] if v in where else v for v in self.oval])
        # Mirror of each triangle (vertex for vertex) and whether the mesh has it.
        mirror = np.array(T.MIRROR_WITH_VIRTUAL + LASH_MIRROR + HEAD_MIRROR)
        self.mirror_src = mirror[self.tris]
        lookup = {tuple(sorted(t)): k for k, t in enumerate(self.tris.tolist())}
        self.mirror_index = np.array([lookup.get(tuple(sorted(t)), k) for k, t in enumerate(self.mirror_src.tolist())])
        self.has_mirror = np.array([tuple(sorted(t)) in lookup for t in self.mirror_src.tolist()], dtype=np.float64)
        self.has_mirror[np.any(self.tris >= T.N_MESH, axis=1)] = 0.0  # eye/mouth fans and irises: never

    # ------------------------------------------------------------------ mesh
    def face_raster(self, dst: np.ndarray, visible: np.ndarray, dst_z: np.ndarray) -> np.ndarray:
        """Triangle id per output pixel (-1 outside), drawn back to front.

        Args:
            dst: (481, 2) target vertex positions, crop px.
            visible: (T,) bool, triangles facing the camera in the target.
            dst_z: (481,) target depth (larger = farther).

        Returns:
            (S, S) int32 triangle index image.
        """
        tri = self.tris
        depth = dst_z[tri].mean(1)
        order = np.argsort(-depth, kind="stable")
        ids = np.full((self.size, self.size), -1, dtype=np.int32)
        fixed = np.round(dst * 16).astype(np.int32)
        for k in order:
            if visible[k]:
                cv2.fillConvexPoly(ids, fixed[tri[k]], int(k), lineType=cv2.LINE_8, shift=4)
        return ids

    def _triangle_affines(self, dst: np.ndarray, src: np.ndarray, src_tris: np.ndarray | None = None) -> np.ndarray:
        """(T, 2, 3) affines mapping each target triangle onto its source.

        ``src_tris`` (default: the same triangles) names the source vertices of
        each target triangle, vertex for vertex (the mirror layer passes the
        mirrored triangles). Closed form (Cramer's rule); degenerate target
        triangles get the translation-free identity, they cover no pixel anyway.
        """
        tri = self.tris
        x1, y1 = dst[tri[:, 0], 0], dst[tri[:, 0], 1]
        x2, y2 = dst[tri[:, 1], 0], dst[tri[:, 1], 1]
        x3, y3 = dst[tri[:, 2], 0], dst[tri[:, 2], 1]
        det = x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2)
        ok = np.abs(det) > 1e-9
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        # Rows of the inverse of [[x1, y1, 1], [x2, y2, 1], [x3, y3, 1]] (as columns).
        ia = np.stack([y2 - y3, y3 - y1, y1 - y2], 1) * inv[:, None]
        ib = np.stack([x3 - x2, x1 - x3, x2 - x1], 1) * inv[:, None]
        ic = np.stack([x2 * y3 - x3 * y2, x3 * y1 - x1 * y3, x1 * y2 - x2 * y1], 1) * inv[:, None]
        s = src[tri if src_tris is None else src_tris]  # (T, 3, 2)
        aff = np.empty((len(tri), 2, 3))
        for c in range(2):
            aff[:, c, 0] = (ia * s[:, :, c]).sum(1)
            aff[:, c, 1] = (ib * s[:, :, c]).sum(1)
            aff[:, c, 2] = (ic * s[:, :, c]).sum(1)
        aff[~ok] = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return aff

    # ----------------------------------------------------------------- outer
    def outer_field(self, dst: np.ndarray, src: np.ndarray, face: float, edge: np.ndarray | None = None) -> np.ndarray:
        """Smooth backward displacement outside the face, full resolution.

        Args:
            dst, src: (481, 2) target / source landmarks, crop px.
            face: face size in crop px (sets the falloff distances).
            edge: optional (g*g,) distance of each coarse grid point (see
                :attr:`coarse`) inside the portrait picture, crop px, 0 on or
                beyond its edges: the field fades to zero over
                ``edge_margin`` face sizes from the picture's edges (except
                near the face outline).

        Returns:
            (S, S, 2) float32 displacement (source - target), crop px.
        """
        cfg = self.cfg
        g = cfg.field_size
        step = self.coarse_step
        mask = np.zeros((g, g), np.uint8)
        poly = np.round((dst[self.oval] + 0.5) / step * 16 - 8).astype(np.int32)
        cv2.fillPoly(mask, [poly], 1, lineType=cv2.LINE_8, shift=4)
        dist = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3).ravel() * step
        pts = self.coarse
        anchor = self.border_w
        if edge is not None and cfg.edge_margin > 0:
            w_edge = smoothstep(edge, 0.0, cfg.edge_margin * face)
            near_face = np.exp(-((dist / (0.1 * face)) ** 2))
            anchor = anchor * (w_edge + (1.0 - w_edge) * near_face)
        # Head-rigid part, fading with distance and below the chin.
        aff = fit_affine_2d(dst[list(T.STABLE_POINTS)], src[list(T.STABLE_POINTS)])
        rigid = pts @ aff[:, :2].T + aff[:, 2] - pts
        down = dst[T.CHIN] - dst[T.FOREHEAD_TOP]
        down /= np.linalg.norm(down) + 1e-9
        below = ((pts - dst[T.CHIN]) @ down) / face
        neck = 1.0 - (1.0 - cfg.neck_follow) * smoothstep(below, 0.0, 0.3)
        w_rigid = np.exp(-((dist / (cfg.hair_radius * face)) ** 2)) * neck * anchor
        # Face-contour residual (what the rigid part misses at the outline).
        o_dst, o_src = dst[self.oval], src[self.oval]
        o_below = ((o_dst - dst[T.CHIN]) @ down) / face
        o_neck = 1.0 - (1.0 - cfg.neck_follow) * smoothstep(o_below, 0.0, 0.3)
        o_rigid = o_dst @ aff[:, :2].T + aff[:, 2] - o_dst
        resid = (o_src - o_dst) - o_neck[:, None] * o_rigid
        sigma = cfg.contour_sigma * face
        o32 = o_dst.astype(np.float32)
        d2 = self.coarse_sq[:, None] + (o32**2).sum(1)[None] - 2.0 * (self.coarse32 @ o32.T)
        d2 -= d2.min(1, keepdims=True)
        phi = np.exp(d2 * np.float32(-0.5 / (sigma * sigma)))
        r = (phi @ resid.astype(np.float32)) / phi.sum(1, keepdims=True)
        w_res = np.exp(-((dist / (0.6 * cfg.hair_radius * face)) ** 2)) * anchor
        field = (w_rigid[:, None] * rigid + w_res[:, None] * r).astype(np.float32).reshape(g, g, 2)
        return cv2.resize(field, (self.size, self.size), interpolation=cv2.INTER_LINEAR)

    # ------------------------------------------------------------------ all
    def backward_map(self, src: np.ndarray, dst: np.ndarray, edge: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Backward map taking the portrait crop to the target landmarks.

        Args:
            src: (478, 3) portrait landmarks in crop px.
            dst: (478, 3) target landmarks in crop px.
            edge: optional (g*g,) distances inside the portrait picture of the
                coarse grid points (see :meth:`outer_field`).

        Returns:
            (map_x, map_y), each (S, S) float32 source coordinates for
            ``cv2.remap``.
        """
        map_x, map_y, _ = self.backward_maps(src, dst, mirror=False, edge=edge)
        return map_x, map_y

    def backward_maps(
        self, src: np.ndarray, dst: np.ndarray, mirror: bool = True, edge: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, SampleLayer | None]:
        """Backward map plus the mirrored fill of revealed regions.

        The face outline is feathered by blending displacements only (no
        ``seam`` layer); :meth:`maps` gives the full set.

        Args:
            src: (478, 3) portrait landmarks in crop px.
            dst: (478, 3) target landmarks in crop px.
            mirror: also build the mirror layer (None when no region needs it).
            edge: optional (g*g,) distances inside the portrait picture of the
                coarse grid points (see :meth:`outer_field`).

        Returns:
            (map_x, map_y, layer): maps as in :meth:`backward_map`.
        """
        m = self.maps(src, dst, mirror=mirror, edge=edge, seams=False)
        return m.map_x, m.map_y, m.mirror

    def maps(
        self, src: np.ndarray, dst: np.ndarray, mirror: bool = True, edge: np.ndarray | None = None, seams: bool = True
    ) -> WarpMaps:
        """The main backward map with its mirror and seam layers.

        Args:
            src: (478, 3) portrait landmarks in crop px.
            dst: (478, 3) target landmarks in crop px.
            mirror: also build the mirror layer.
            edge: optional (g*g,) distances inside the portrait picture of the
                coarse grid points (see :meth:`outer_field`).
            seams: build the seam layer where the mesh and outer fields part
                at the face outline (``cfg.seam_gap_*``); without it the
                feather blends the displacements everywhere.

        Returns:
            :class:`WarpMaps`; a caller draws ``remap(map)``, then blends the
            mirror layer, then the seam layer, each by its weight.
        """
        src_v = T.with_virtual_points(np.asarray(src, dtype=np.float64))
        dst_v = T.with_virtual_points(np.asarray(dst, dtype=np.float64))
        # Always appended, so the head ring's vertex numbers stay fixed; no
        # triangle uses them when the lash band is off.
        src_v, dst_v = with_lash_points(src_v, dst_v, self.cfg.lash_fraction)
        face = float(np.ptp(dst_v[: T.N_LANDMARKS, :2], axis=0).max())
        if self.head_ring:
            src_v, dst_v = with_head_ring(src_v, dst_v, self.cfg.head_ring_outward, self.cfg.head_ring_back)
        outward = outward_signs(src_v, self.tris)
        cos_d = triangle_facing(dst_v, self.tris, outward)
        cos_s = triangle_facing(src_v, self.tris, outward)
        # Every triangle facing the camera in the target is drawn, even one the
        # portrait shows from behind (a nostril, the far side of the nose):
        # leaving it out opens a hole through which deeper parts of the mesh
        # show. Its texture comes from its mirror when that is seen (see
        # _mirror_layer), else from its own, folded, source triangle.
        ids = self.face_raster(dst_v[:, :2], cos_d > 0.0, dst_v[:, 2])
        field = self.outer_field(dst_v[:, :2], src_v[:, :2], face, edge)
        inside = ids >= 0
        ys, xs = np.nonzero(inside)
        # Displacement (source - target) is affine per triangle too.
        aff = self._triangle_affines(dst_v[:, :2], src_v[:, :2]).astype(np.float32)
        aff[:, 0, 0] -= 1.0
        aff[:, 1, 1] -= 1.0
        tid = ids[ys, xs]
        xf, yf = xs.astype(np.float32), ys.astype(np.float32)
        mesh = np.zeros_like(field)
        # Inside a triangle the displacement is a mix of its corners'; a pixel
        # the raster rounds into a sliver triangle lies a little outside it,
        # where the sliver's affine extrapolates wildly (a lone pixel sampled
        # 20 px away, a tiny ring at a closed eye's corner at full
        # resolution), so it is clipped to the corners' range.
        corner = (src_v[:, :2] - dst_v[:, :2])[self.tris]  # (T, 3, 2)
        lo, hi = corner.min(1).astype(np.float32), corner.max(1).astype(np.float32)
        for c in range(2):
            d = aff[tid, c, 0] * xf + aff[tid, c, 1] * yf + aff[tid, c, 2]
            mesh[ys, xs, c] = np.clip(d, lo[tid, c], hi[tid, c])
        f = self.cfg.face_feather
        alpha = _feathered(inside, f)
        # The face raster's box (x0, y0, x1, y1); blend is 0 outside it.
        face_box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else None
        seam = None
        blend = alpha
        if seams and f > 0 and self.cfg.seam_gap_full > 0 and face_box is not None:
            blend, seam = self._seam_layer(inside, alpha, mesh, field, face_box)
        # Mix the fields only in the face's box.
        disp = field.copy()
        if face_box is not None:
            box = (slice(face_box[1], face_box[3]), slice(face_box[0], face_box[2]))
            b = blend[box][..., None]
            disp[box] += b * (mesh[box] - field[box])
        layer = None
        if mirror:
            layer = self._mirror_layer(src_v, dst_v, ids, ys, xs, tid, outward, cos_s, cos_d, alpha, face)
        return WarpMaps(self.grid_x + disp[..., 0], self.grid_y + disp[..., 1], layer, seam)

    def _seam_layer(
        self, inside: np.ndarray, alpha: np.ndarray, mesh: np.ndarray, field: np.ndarray, face_box: tuple[int, int, int, int]
    ) -> tuple[np.ndarray, SampleLayer | None]:
        """Split the outline feather where the two fields part.

        With ``g`` = smoothstep of the fields' disagreement (crop px) over
        ``cfg.seam_gap_start..seam_gap_full``, the main map's mesh weight
        becomes ``alpha + g * (1 - alpha)`` (the mesh up to the raster edge)
        and the outer field is sampled separately with weight
        ``g * (1 - sharp)``, ``sharp`` the face raster feathered by
        ``cfg.seam_feather`` instead of ``face_feather``, so ``g = 1`` gives
        ``sharp * I(mesh) + (1 - sharp) * I(field)``: a sharp silhouette. A
        ring of 2 px outside the face keeps weight ``g`` too:
        there the main map is the outer field itself, and an upsampled map
        (full-resolution output) never interpolates between the two fields.

        Args:
            inside: (S, S) bool face raster.
            face_box: (x0, y0, x1, y1) box of ``inside``'s pixels.
            alpha: (S, S) float32 feather weight of the mesh field.
            mesh, field: (S, S, 2) float32 displacements (mesh valid inside).

        Returns:
            (blend, layer): the main map's (S, S) mesh weight and the seam
            layer (None where the fields agree along the whole outline).
        """
        cfg = self.cfg
        n = self.size
        # Work in the face's box plus the ring's reach (the rest is 0).
        x0, y0 = max(face_box[0] - 3, 0), max(face_box[1] - 3, 0)
        x1, y1 = min(face_box[2] + 3, n), min(face_box[3] + 3, n)
        ins, al = inside[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
        band = ins & (al < 0.999)
        if not band.any():
            return alpha, None
        gap = np.zeros_like(al)
        d = mesh[y0:y1, x0:x1][band] - field[y0:y1, x0:x1][band]
        gap[band] = np.sqrt((d * d).sum(1))
        g = smoothstep(gap, cfg.seam_gap_start, cfg.seam_gap_full).astype(np.float32)
        if not np.any(g > 0.01):
            return alpha, None
        blend = alpha.copy()
        blend[y0:y1, x0:x1] = al + g * (1.0 - al)
        sharp = _feathered(ins, cfg.seam_feather)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        ring = cv2.dilate(g, kernel)
        ring[ins] = 0.0
        w_box = np.where(ins, g * (1.0 - sharp), ring).astype(np.float32)
        nz_y, nz_x = np.nonzero(w_box > 0.01)
        if len(nz_x) == 0:
            return alpha, None
        w = np.zeros((n, n), np.float32)
        w[y0:y1, x0:x1] = w_box
        box = (x0 + int(nz_x.min()), y0 + int(nz_y.min()), x0 + int(nz_x.max()) + 1, y0 + int(nz_y.max()) + 1)
        return blend, SampleLayer(self.grid_x + field[..., 0], self.grid_y + field[..., 1], w, box)

    def _mirror_layer(self, src_v, dst_v, ids, ys, xs, tid, outward, cos_s, cos_d, alpha, face) -> SampleLayer | None:
        """Mirrored sampling for triangles seen edge-on in the portrait only."""
        cfg = self.cfg
        cos_m = cos_s[self.mirror_index]
        gain = cos_m - cos_s
        # Only where the head's rotation turns the triangle towards the camera:
        # the source mesh is rotated rigidly onto the target and its facing
        # compared with the portrait's. An expression that tilts a triangle
        # (a raised brow) or a triangle that stays edge-on keeps its own
        # texture; mirroring those cost self-reenactment accuracy (AKD 2.56 ->
        # 2.62 px on three near-frontal clips).
        rigid = fit_similarity(src_v[: T.N_LANDMARKS], dst_v[: T.N_LANDMARKS])
        cos_r = triangle_facing(src_v @ rigid.rotation.T, self.tris, outward)
        revealed = np.minimum(cos_r, cos_d) - cos_s
        w_t = (
            smoothstep(cfg.mirror_visibility - cos_s, 0.0, 0.15)
            * smoothstep(gain, 0.05, 0.25)
            * smoothstep(cos_d, 0.1, 0.3)
            * smoothstep(revealed, 0.05, 0.2)
            * self.has_mirror
        )
        # Seen from behind in the portrait: the mirror is the only texture.
        w_t = np.where((cos_s <= 0.0) & (cos_m > 0.05) & (self.has_mirror > 0), 1.0, w_t).astype(np.float32)
        if not np.any(w_t[tid] > 0.01):
            return None
        w = np.zeros(ids.shape, np.float32)
        w[ys, xs] = w_t[tid]
        w = cv2.GaussianBlur(w, (0, 0), max(1.0, 0.01 * face)) * alpha
        nz_y, nz_x = np.nonzero(w > 0.01)
        if len(nz_x) == 0:
            return None
        aff = self._triangle_affines(dst_v[:, :2], src_v[:, :2], self.mirror_src).astype(np.float32)
        # Pixels just outside a mirrored triangle (blur spill) use their own
        # triangle's mirror when they have one, else the identity (weight 0).
        mx, my = self.grid_x.copy(), self.grid_y.copy()
        xf, yf = xs.astype(np.float32), ys.astype(np.float32)
        mx[ys, xs] = aff[tid, 0, 0] * xf + aff[tid, 0, 1] * yf + aff[tid, 0, 2]
        my[ys, xs] = aff[tid, 1, 0] * xf + aff[tid, 1, 1] * yf + aff[tid, 1, 2]
        w[ids < 0] = 0.0
        w *= self.has_mirror[np.maximum(ids, 0)].astype(np.float32)
        box = (int(nz_x.min()), int(nz_y.min()), int(nz_x.max()) + 1, int(nz_y.max()) + 1)
        return SampleLayer(mx, my, w, box)

def _feathered(inside: np.ndarray, f: int) -> np.ndarray:
    """(S, S) float32 weight of a bool mask: 1 deep inside, falling to 0 over ``f`` px to its edge, 0 outside."""
    if f <= 0:
        return inside.astype(np.float32)
    m = cv2.erode(inside.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * f + 1, 2 * f + 1)))
    alpha = cv2.GaussianBlur(m.astype(np.float32), (0, 0), f / 2.0)
    alpha[~inside] = 0.0
    return alpha


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` (HxWxC uint8) at the backward map (bilinear, reflected border)."""
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
