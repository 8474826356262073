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

import cv2
import numpy as np

from reenactor.config import RenderConfig
from reenactor.face import topology as T
from reenactor.numeric import smoothstep
from reenactor.render.mesh import (
    HEAD_FIRST,
    HEAD_MIRROR,
    LASH_FIRST,
    LASH_MIRROR,
    N_WARP_VERTICES,
    fit_affine_2d,
    head_ring_triangles,
    lash_band_triangles,
    orient_consistently,
    outward_signs,
    source_memo,
    triangle_affines,
    triangle_facing,
    triangle_tables,
    with_head_ring,
    with_lash_points,
)
from reenactor.render.warp_layers import FaceRaster, SampleLayer, feathered, mesh_displacement, mirror_layer, seam_layer

#: The warp's public names (the mesh geometry is re-exported from :mod:`reenactor.render.mesh`).
__all__ = [
    "FaceRaster", "HEAD_FIRST", "HEAD_MIRROR", "LASH_FIRST", "LASH_MIRROR", "MeshWarper", "N_WARP_VERTICES",
    "SampleLayer", "WarpMaps", "fit_affine_2d", "head_ring_triangles", "lash_band_triangles", "orient_consistently",
    "outward_signs", "remap", "triangle_affines", "triangle_facing", "with_head_ring", "with_lash_points",
]


class WarpMaps:
    """Everything one frame's warp samples.

    Attributes:
        disp: (S, S, 2) float32 main backward displacement (source - target,
            crop pixels): the map is the identity plus this.
        mirror: mirrored fill of revealed regions, blended first, or None.
        seam: outer-field samples along occluding face outlines, or None.
    """

    def __init__(self, disp: np.ndarray, grid: tuple[np.ndarray, np.ndarray], mirror: SampleLayer | None,
                 seam: SampleLayer | None) -> None:
        self.disp, self._grid, self.mirror, self.seam = disp, grid, mirror, seam
        self._maps: tuple[np.ndarray, np.ndarray] | None = None

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        if self._maps is None:
            self._maps = (self._grid[0] + self.disp[..., 0], self._grid[1] + self.disp[..., 1])
        return self._maps

    @property
    def map_x(self) -> np.ndarray:
        """(S, S) float32 main backward map, x (``cv2.remap`` convention, crop pixels)."""
        return self._map()[0]

    @property
    def map_y(self) -> np.ndarray:
        """(S, S) float32 main backward map, y."""
        return self._map()[1]


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
        self._tris_key = hash(self.tris.tobytes())
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
    def face_raster(self, dst: np.ndarray, visible: np.ndarray, dst_z: np.ndarray, margin: int = 0) -> FaceRaster | None:
        """Triangle id per output pixel, drawn back to front, over the face's box.

        Only the box of the visible triangles, grown by ``margin`` pixels (and
        clipped to the crop), is rasterised; a pixel outside it is outside the
        face. The raster is the one of the whole crop, cut to that box.

        Args:
            dst: (V, 2) target vertex positions, crop px.
            visible: (T,) bool, triangles facing the camera in the target.
            dst_z: (V,) target depth (larger = farther).
            margin: extra pixels around the box (room for feathering).

        Returns:
            :class:`FaceRaster`, or None when no face pixel is drawn.
        """
        tri = self.tris
        z = dst_z[tri]
        order = np.argsort(-(z[:, 0] + z[:, 1] + z[:, 2]), kind="stable")  # farthest first (not .mean(1): slow on (T, 3))
        order = order[visible[order]]
        if len(order) == 0:
            return None
        polys = np.round(dst * 16).astype(np.int32)[tri[order]]  # (n, 3, 2), 4 fractional bits
        n = self.size
        lo, hi = polys.reshape(-1, 2).min(0) >> 4, (polys.reshape(-1, 2).max(0) >> 4) + 2
        x0, y0 = (int(np.clip(v - margin, 0, n)) for v in lo)
        x1, y1 = (int(np.clip(v + margin, 0, n)) for v in hi)
        if x1 <= x0 or y1 <= y0:
            return None
        ids = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
        polys -= np.array([x0 * 16, y0 * 16], np.int32)
        fill = cv2.fillConvexPoly  # ~900 calls a frame: positional arguments, a list of arrays
        for k, poly in zip(order.tolist(), list(polys)):
            fill(ids, poly, k, cv2.LINE_8, 4)
        ys, xs = np.nonzero(ids >= 0)
        if len(xs) == 0:
            return None
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        return FaceRaster((x0, y0), ids, ys, xs, ids[ys, xs], box)

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
        # Written out, not as a matrix product: BLAS threads cost more than this small product.
        cross = self.coarse32[:, :1] * o32[:, 0] + self.coarse32[:, 1:] * o32[:, 1]
        d2 = self.coarse_sq[:, None] + (o32**2).sum(1)[None] - 2.0 * cross
        d2 -= cv2.reduce(d2, 1, cv2.REDUCE_MIN)  # (row reductions by OpenCV: numpy's cost 10x more here)
        phi = np.exp(d2 * np.float32(-0.5 / (sigma * sigma)))
        r = (phi @ resid.astype(np.float32)) / cv2.reduce(phi, 1, cv2.REDUCE_SUM)
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
        src_v, dst_v, face = self._vertices(src, dst)
        outward, cos_s = source_memo(f"facing:{self._tris_key}", src_v, lambda: self._source_facing(src_v))
        cos_d = triangle_facing(dst_v, self.tris, outward)
        field = self.outer_field(dst_v[:, :2], src_v[:, :2], face, edge)
        grid = (self.grid_x, self.grid_y)
        # Every triangle facing the camera in the target is drawn, even one the
        # portrait shows from behind (a nostril, the far side of the nose):
        # leaving it out opens a hole through which deeper parts of the mesh
        # show. Its texture comes from its mirror when that is seen (see
        # mirror_layer), else from its own, folded, source triangle.
        raster = self.face_raster(dst_v[:, :2], cos_d > 0.0, dst_v[:, 2], self._margin(face))
        if raster is None:
            return WarpMaps(field, grid, None, None)
        mesh = mesh_displacement(raster, *triangle_tables(self.tris, src_v, dst_v))
        f = self.cfg.face_feather
        alpha = feathered(raster.inside, f)
        blend, seam = alpha, None
        if seams and f > 0 and self.cfg.seam_gap_full > 0:
            blend, seam = seam_layer(self, raster, alpha, mesh, field)
        # Mix the fields only in the face's box (the blend is 0 outside it).
        fx0, fy0, fx1, fy1 = raster.face_box
        ox, oy = raster.origin
        local, crop = np.s_[fy0:fy1, fx0:fx1], np.s_[oy + fy0 : oy + fy1, ox + fx0 : ox + fx1]
        disp = field  # blended in place: the seam layer has taken its own samples of the outer field
        near = field[crop]
        disp[crop] = near + blend[local][..., None] * (mesh[local] - near)
        layer = mirror_layer(self, raster, src_v, dst_v, (outward, cos_s, cos_d), alpha, face) if mirror else None
        return WarpMaps(disp, grid, layer, seam)

    def _source_facing(self, src_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outward signs, facing cosines) of the portrait's triangles (see :func:`outward_signs`)."""
        outward = outward_signs(src_v, self.tris)
        return outward, triangle_facing(src_v, self.tris, outward)

    def _vertices(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(V, 3) float64 source and target warp vertices (landmarks, fan centres,
        lash line, head ring; crop px) and the target face's size (px)."""
        src = np.asarray(src, dtype=np.float64)
        src_v = source_memo("virtual", src, lambda: T.with_virtual_points(src))  # the portrait's, once
        dst_v = T.with_virtual_points(np.asarray(dst, dtype=np.float64))
        # Always appended, so the head ring's vertex numbers stay fixed; no
        # triangle uses them when the lash band is off.
        src_v, dst_v = with_lash_points(src_v, dst_v, self.cfg.lash_fraction)
        face = float(np.ptp(dst_v[: T.N_LANDMARKS, :2], axis=0).max())
        if self.head_ring:
            src_v, dst_v = with_head_ring(src_v, dst_v, self.cfg.head_ring_outward, self.cfg.head_ring_back)
        return src_v, dst_v, face

    def _margin(self, face: float) -> int:
        """Room (px) around the face raster for the widest kernel drawn near it:
        the outline feather and the mirror layer's blur (radius ~4 sigma)."""
        f = self.cfg.face_feather
        return int(np.ceil(4.0 * max(1.0, 0.01 * face, f / 2.0))) + max(f, 0) + 4


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` (HxWxC uint8) at the backward map (bilinear, reflected border)."""
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
