"""The warp's second samplings: the seam along occluding outlines and the mirrored fill.

Both are :class:`SampleLayer` s over a box of the crop, built from the face
raster (:class:`FaceRaster`) of :class:`reenactor.render.warp.MeshWarper`,
whose attributes (``cfg``, ``grid_x``, ``grid_y``, ``size``, ``tris``,
``mirror_src``, ``mirror_index``, ``has_mirror``) they read. Coordinates are
crop pixels, ``cv2.remap`` convention; weights float32 in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.face import topology as T
from reenactor.face.pose import fit_similarity
from reenactor.numeric import smoothstep
from reenactor.render.mesh import triangle_affines, triangle_facing


class SampleLayer:
    """A second sampling of part of the crop, blended over the main one.

    Used for the mirrored fill of revealed regions (``WarpMaps.mirror``:
    samples from the mirrored side of the face) and for the face outline
    where the mesh and outer fields part (``WarpMaps.seam``: samples at the
    outer field). Only its box is stored: the layer is a small part of the
    crop, and a full-size copy of three maps cost ~1.5 ms a frame at 512 px.
    It is given as a backward map or as a displacement; the other form is
    made on request (the crop output draws maps, the full picture resamples
    displacements).

    Args:
        box: (x0, y0, x1, y1) crop-pixel box, ``h = y1 - y0``, ``w = x1 - x0``.
        weight: (h, w) float32 in [0, 1], how much of the second sample to
            use; outside ``box`` the weight is below 0.01 and taken as 0.
        maps: (map_x, map_y), each (h, w) float32 backward map over the box
            (source crop pixels, ``cv2.remap`` convention), or None.
        disp: (h, w, 2) float32 map minus the identity (crop px), or None.
    """

    def __init__(self, box: tuple[int, int, int, int], weight: np.ndarray,
                 maps: tuple[np.ndarray, np.ndarray] | None = None, disp: np.ndarray | None = None) -> None:
        if (maps is None) == (disp is None):
            raise ValueError("a SampleLayer takes maps or a displacement")
        self.box, self.weight, self._maps, self._disp = box, weight, maps, disp

    def _ramps(self) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, x1, y1 = self.box
        return np.arange(x0, x1, dtype=np.float32)[None, :], np.arange(y0, y1, dtype=np.float32)[:, None]

    @property
    def map_x(self) -> np.ndarray:
        """(h, w) float32 backward map over the box, x."""
        return self._backward()[0]

    @property
    def map_y(self) -> np.ndarray:
        """(h, w) float32 backward map over the box, y."""
        return self._backward()[1]

    def _backward(self) -> tuple[np.ndarray, np.ndarray]:
        if self._maps is None:
            gx, gy = self._ramps()
            self._maps = (self._disp[..., 0] + gx, self._disp[..., 1] + gy)
        return self._maps

    def displacement(self) -> np.ndarray:
        """(h, w, 2) float32 map minus the identity over the box (crop px)."""
        if self._disp is None:
            gx, gy = self._ramps()
            self._disp = cv2.merge([self._maps[0] - gx, self._maps[1] - gy])
        return self._disp

    def full(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The layer over the whole (size, size) crop: identity map and zero weight outside the box."""
        gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
        w = np.zeros((size, size), np.float32)
        x0, y0, x1, y1 = self.box
        gx[y0:y1, x0:x1], gy[y0:y1, x0:x1], w[y0:y1, x0:x1] = self.map_x, self.map_y, self.weight
        return gx, gy, w


@dataclass(frozen=True)
class FaceRaster:
    """The face mesh rasterised over a region of the crop.

    Attributes:
        origin: (x0, y0) crop pixel of the region's top-left corner.
        ids: (h, w) int32 triangle index per pixel of the region, -1 outside the face.
        ys, xs: (P,) int64 region-relative rows and columns of the face's pixels.
        tid: (P,) int32 triangle of each of those pixels.
        face_box: (x0, y0, x1, y1) region-relative box of the face's pixels.
    """

    origin: tuple[int, int]
    ids: np.ndarray
    ys: np.ndarray
    xs: np.ndarray
    tid: np.ndarray
    face_box: tuple[int, int, int, int]

    @property
    def inside(self) -> np.ndarray:
        """(h, w) bool, pixels of the face."""
        return self.ids >= 0

    def region(self) -> tuple[slice, slice]:
        """Slices of the region in crop arrays."""
        (x0, y0), (h, w) = self.origin, self.ids.shape
        return slice(y0, y0 + h), slice(x0, x0 + w)


def feathered(inside: np.ndarray, f: int) -> np.ndarray:
    """(S, S) float32 weight of a bool mask: 1 deep inside, falling to 0 over ``f`` px to its edge, 0 outside."""
    if f <= 0:
        return inside.astype(np.float32)
    m = cv2.erode(inside.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * f + 1, 2 * f + 1)))
    alpha = cv2.GaussianBlur(m.astype(np.float32), (0, 0), f / 2.0)
    alpha[~inside] = 0.0
    return alpha


def mesh_displacement(raster: FaceRaster, aff: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(h, w, 2) float32 piecewise-affine displacement (source - target) over
    the raster's region, crop px; 0 outside the face.

    Inside a triangle the displacement is a mix of its corners'
    (:func:`reenactor.render.mesh.triangle_tables`); a pixel the raster rounds into a sliver
    triangle lies a little outside it, where the sliver's affine
    extrapolates wildly (a lone pixel sampled 20 px away, a tiny ring at a
    closed eye's corner at full resolution), so it is clipped to the
    corners' range. Computed over the whole region (outside the face the
    id's row is all zeros): a dense pass costs a third of gathering and
    scattering the face's pixels.
    """
    h, w = raster.ids.shape
    ids = raster.ids.ravel() + 1
    a, low, high = np.take(aff, ids, axis=0), np.take(lo, ids, axis=0), np.take(hi, ids, axis=0)
    x = np.broadcast_to(np.arange(w, dtype=np.float32) + np.float32(raster.origin[0]), (h, w)).ravel()
    y = np.repeat(np.arange(h, dtype=np.float32) + np.float32(raster.origin[1]), w)
    d = np.empty((h * w, 2), np.float32)
    for c in range(2):
        np.multiply(a[:, 3 * c], x, out=d[:, c])
        d[:, c] += a[:, 3 * c + 1] * y
        d[:, c] += a[:, 3 * c + 2]
    np.maximum(d, low, out=d)
    np.minimum(d, high, out=d)
    return d.reshape(h, w, 2)


def seam_layer(
    warper, raster: FaceRaster, alpha: np.ndarray, mesh: np.ndarray, field: np.ndarray
) -> tuple[np.ndarray, SampleLayer | None]:
    """Split the outline feather where the mesh and outer fields part.

    With ``g`` = smoothstep of the fields' disagreement (crop px) over
    ``cfg.seam_gap_start..seam_gap_full``, the main map's mesh weight
    becomes ``alpha + g * (1 - alpha)`` (the mesh up to the raster edge)
    and the outer field is sampled separately with weight
    ``g * (1 - sharp)``, ``sharp`` the face raster feathered by
    ``cfg.seam_feather`` instead of ``face_feather``, so ``g = 1`` gives
    ``sharp * I(mesh) + (1 - sharp) * I(field)``: a sharp silhouette. A
    ring of 2 px outside the face keeps weight ``g`` too: there the main map
    is the outer field itself, and an upsampled map (full-resolution output)
    never interpolates between the two fields.

    Args:
        warper: the :class:`reenactor.render.warp.MeshWarper`.
        raster: the face raster (its region holds the face's box plus 3 px).
        alpha: (h, w) float32 feather weight of the mesh field over the raster's region.
        mesh: (h, w, 2) float32 mesh displacement over the region (valid inside the face).
        field: (S, S, 2) float32 outer-field displacement over the crop.

    Returns:
        (blend, layer): the region's (h, w) mesh weight and the seam layer
        (None where the fields agree along the whole outline).
    """
    cfg, n = warper.cfg, warper.size
    (ox, oy), (fx0, fy0, fx1, fy1) = raster.origin, raster.face_box
    # The face's box plus the ring's reach, in crop pixels (the rest is 0).
    ax0, ay0 = max(ox + fx0 - 3, 0), max(oy + fy0 - 3, 0)
    ax1, ay1 = min(ox + fx1 + 3, n), min(oy + fy1 + 3, n)
    here = np.s_[ay0 - oy : ay1 - oy, ax0 - ox : ax1 - ox]
    ins, al = raster.inside[here], alpha[here]
    band = ins & (al < 0.999)
    if not band.any():
        return alpha, None
    gap = np.zeros_like(al)
    d = mesh[here][band] - field[ay0:ay1, ax0:ax1][band]
    gap[band] = np.sqrt((d * d).sum(1))
    g = smoothstep(gap, cfg.seam_gap_start, cfg.seam_gap_full).astype(np.float32)
    if not np.any(g > 0.01):
        return alpha, None
    blend = alpha.copy()
    blend[here] = al + g * (1.0 - al)
    sharp = feathered(ins, cfg.seam_feather)
    ring = cv2.dilate(g, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    ring[ins] = 0.0
    w_box = np.where(ins, g * (1.0 - sharp), ring).astype(np.float32)
    nz_y, nz_x = np.nonzero(w_box > 0.01)
    if len(nz_x) == 0:
        return alpha, None
    bx0, by0, bx1, by1 = int(nz_x.min()), int(nz_y.min()), int(nz_x.max()) + 1, int(nz_y.max()) + 1
    box = (ax0 + bx0, ay0 + by0, ax0 + bx1, ay0 + by1)
    crop = np.s_[box[1] : box[3], box[0] : box[2]]
    return blend, SampleLayer(box, w_box[by0:by1, bx0:bx1], disp=field[crop].copy())


def _mirror_weights(warper, src_v: np.ndarray, dst_v: np.ndarray, facing: tuple) -> np.ndarray:
    """(T,) float32 weight of each triangle's mirrored texture (see :func:`mirror_layer`)."""
    cfg = warper.cfg
    outward, cos_s, cos_d = facing
    cos_m = cos_s[warper.mirror_index]
    gain = cos_m - cos_s
    # Only where the head's rotation turns the triangle towards the camera:
    # the source mesh is rotated rigidly onto the target and its facing
    # compared with the portrait's. An expression that tilts a triangle
    # (a raised brow) or a triangle that stays edge-on keeps its own
    # texture; mirroring those cost self-reenactment accuracy (AKD 2.56 ->
    # 2.62 px on three near-frontal clips).
    rigid = fit_similarity(src_v[: T.N_LANDMARKS], dst_v[: T.N_LANDMARKS])
    cos_r = triangle_facing(src_v @ rigid.rotation.T, warper.tris, outward)
    revealed = np.minimum(cos_r, cos_d) - cos_s
    w_t = (
        smoothstep(cfg.mirror_visibility - cos_s, 0.0, 0.15)
        * smoothstep(gain, 0.05, 0.25)
        * smoothstep(cos_d, 0.1, 0.3)
        * smoothstep(revealed, 0.05, 0.2)
        * warper.has_mirror
    )
    # Seen from behind in the portrait: the mirror is the only texture.
    return np.where((cos_s <= 0.0) & (cos_m > 0.05) & (warper.has_mirror > 0), 1.0, w_t).astype(np.float32)


def mirror_layer(
    warper, raster: FaceRaster, src_v: np.ndarray, dst_v: np.ndarray, facing: tuple, alpha: np.ndarray, face: float
) -> SampleLayer | None:
    """Mirrored sampling for triangles seen edge-on in the portrait only.

    Args:
        warper: the :class:`reenactor.render.warp.MeshWarper`.
        raster: the face raster (its region holds the blur's reach around the face).
        src_v, dst_v: (V, 3) warp vertices, crop px.
        facing: (outward, cos_s, cos_d), each (T,): winding signs and the
            triangles' facing in the portrait and in the target.
        alpha: (h, w) float32 feather weight over the raster's region.
        face: target face size, px (sets the blur).

    Returns:
        The layer over the box of its weights above 0.01, or None.
    """
    w_t = _mirror_weights(warper, src_v, dst_v, facing)
    tid, ys, xs = raster.tid, raster.ys, raster.xs
    if not np.any(w_t[tid] > 0.01):
        return None
    w = np.zeros(raster.ids.shape, np.float32)
    w[ys, xs] = w_t[tid]
    w = cv2.GaussianBlur(w, (0, 0), max(1.0, 0.01 * face)) * alpha
    nz_y, nz_x = np.nonzero(w > 0.01)
    if len(nz_x) == 0:
        return None
    bx0, by0, bx1, by1 = int(nz_x.min()), int(nz_y.min()), int(nz_x.max()) + 1, int(nz_y.max()) + 1
    (ox, oy) = raster.origin
    crop = np.s_[oy + by0 : oy + by1, ox + bx0 : ox + bx1]
    # Pixels just outside a mirrored triangle (blur spill) use their own
    # triangle's mirror when they have one, else the identity (weight 0).
    aff = triangle_affines(warper.tris, dst_v[:, :2], src_v[:, :2], warper.mirror_src).astype(np.float32)
    mx, my = warper.grid_x[crop].copy(), warper.grid_y[crop].copy()
    sel = (xs >= bx0) & (xs < bx1) & (ys >= by0) & (ys < by1)
    sy, sx, st = ys[sel], xs[sel], tid[sel]
    xf, yf = (sx + ox).astype(np.float32), (sy + oy).astype(np.float32)
    mx[sy - by0, sx - bx0] = aff[st, 0, 0] * xf + aff[st, 0, 1] * yf + aff[st, 0, 2]
    my[sy - by0, sx - bx0] = aff[st, 1, 0] * xf + aff[st, 1, 1] * yf + aff[st, 1, 2]
    ids = raster.ids[by0:by1, bx0:bx1]
    wb = w[by0:by1, bx0:bx1]
    wb[ids < 0] = 0.0
    wb *= warper.has_mirror[np.maximum(ids, 0)].astype(np.float32)
    return SampleLayer((ox + bx0, oy + by0, ox + bx1, oy + by1), wb, maps=(mx, my))
