"""Dense landmark-driven warp of the whole face crop.

The warp is a *backward map*: for every output pixel, the position in the
portrait crop to sample (``cv2.remap`` convention, pixel xy, centres at
integers). It is assembled from two fields:

* **inside the face**: a piecewise-affine map over mediapipe's face mesh
  (plus eye and mouth fans), rasterised at full resolution and drawn back to
  front by depth; triangles that face away from the camera after the motion
  are not drawn, so a turning head hides its far cheek instead of folding it;
* **outside the face**: a smooth field at low resolution made of the head's
  rigid motion (a 2D affine fitted on stable points) fading with distance from
  the face (hair and ears follow, the neck follows less, the crop border not
  at all), plus the face contour's own motion (jaw opening) spread outwards.

The two are blended by a feathered face mask.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.config import RenderConfig
from reenactor.face import topology as T


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return t * t * (3 - 2 * t)


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
        self.tris = T.mesh_triangles()
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
        self.border_w = _smoothstep(border, 0.25 * m, m).ravel()
        self.oval = np.array(T.face_oval())

    # ------------------------------------------------------------------ mesh
    def face_raster(self, dst: np.ndarray, src: np.ndarray, dst_z: np.ndarray) -> np.ndarray:
        """Triangle id per output pixel (-1 outside), drawn back to front.

        Args:
            dst: (481, 2) target vertex positions, crop px.
            src: (481, 2) source vertex positions, crop px.
            dst_z: (481,) target depth (larger = farther).

        Returns:
            (S, S) int32 triangle index image.
        """
        tri = self.tris
        a, b, c = dst[tri[:, 0]], dst[tri[:, 1]], dst[tri[:, 2]]
        area_d = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        sa, sb, sc = src[tri[:, 0]], src[tri[:, 1]], src[tri[:, 2]]
        area_s = (sb[:, 0] - sa[:, 0]) * (sc[:, 1] - sa[:, 1]) - (sb[:, 1] - sa[:, 1]) * (sc[:, 0] - sa[:, 0])
        # Keep triangles whose orientation is unchanged (front-facing).
        front = np.sign(area_d) == np.sign(area_s)
        depth = dst_z[tri].mean(1)
        order = np.argsort(-depth, kind="stable")
        ids = np.full((self.size, self.size), -1, dtype=np.int32)
        fixed = np.round(dst * 16).astype(np.int32)
        for k in order:
            if front[k]:
                cv2.fillConvexPoly(ids, fixed[tri[k]], int(k), lineType=cv2.LINE_8, shift=4)
        return ids

    def _triangle_affines(self, dst: np.ndarray, src: np.ndarray) -> np.ndarray:
        """(T, 2, 3) affines mapping each target triangle onto its source.

        Closed form (Cramer's rule); degenerate target triangles get the
        translation-free identity, they cover no pixel anyway.
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
        s = src[tri]  # (T, 3, 2)
        aff = np.empty((len(tri), 2, 3))
        for c in range(2):
            aff[:, c, 0] = (ia * s[:, :, c]).sum(1)
            aff[:, c, 1] = (ib * s[:, :, c]).sum(1)
            aff[:, c, 2] = (ic * s[:, :, c]).sum(1)
        aff[~ok] = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return aff

    # ----------------------------------------------------------------- outer
    def outer_field(self, dst: np.ndarray, src: np.ndarray, face: float) -> np.ndarray:
        """Smooth backward displacement outside the face, full resolution.

        Args:
            dst, src: (481, 2) target / source landmarks, crop px.
            face: face size in crop px (sets the falloff distances).

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
        # Head-rigid part, fading with distance and below the chin.
        aff = fit_affine_2d(dst[list(T.STABLE_POINTS)], src[list(T.STABLE_POINTS)])
        rigid = pts @ aff[:, :2].T + aff[:, 2] - pts
        down = dst[T.CHIN] - dst[T.FOREHEAD_TOP]
        down /= np.linalg.norm(down) + 1e-9
        below = ((pts - dst[T.CHIN]) @ down) / face
        neck = 1.0 - (1.0 - cfg.neck_follow) * _smoothstep(below, 0.0, 0.3)
        w_rigid = np.exp(-((dist / (cfg.hair_radius * face)) ** 2)) * neck * self.border_w
        # Face-contour residual (what the rigid part misses at the outline).
        o_dst, o_src = dst[self.oval], src[self.oval]
        o_below = ((o_dst - dst[T.CHIN]) @ down) / face
        o_neck = 1.0 - (1.0 - cfg.neck_follow) * _smoothstep(o_below, 0.0, 0.3)
        o_rigid = o_dst @ aff[:, :2].T + aff[:, 2] - o_dst
        resid = (o_src - o_dst) - o_neck[:, None] * o_rigid
        sigma = cfg.contour_sigma * face
        o32 = o_dst.astype(np.float32)
        d2 = self.coarse_sq[:, None] + (o32**2).sum(1)[None] - 2.0 * (self.coarse32 @ o32.T)
        d2 -= d2.min(1, keepdims=True)
        phi = np.exp(d2 * np.float32(-0.5 / (sigma * sigma)))
        r = (phi @ resid.astype(np.float32)) / phi.sum(1, keepdims=True)
        w_res = np.exp(-((dist / (0.6 * cfg.hair_radius * face)) ** 2)) * self.border_w
        field = (w_rigid[:, None] * rigid + w_res[:, None] * r).astype(np.float32).reshape(g, g, 2)
        return cv2.resize(field, (self.size, self.size), interpolation=cv2.INTER_LINEAR)

    # ------------------------------------------------------------------ all
    def backward_map(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backward map taking the portrait crop to the target landmarks.

        Args:
            src: (478, 3) portrait landmarks in crop px.
            dst: (478, 3) target landmarks in crop px.

        Returns:
            (map_x, map_y), each (S, S) float32 source coordinates for
            ``cv2.remap``.
        """
        src_v = T.with_virtual_points(np.asarray(src, dtype=np.float64))
        dst_v = T.with_virtual_points(np.asarray(dst, dtype=np.float64))
        face = float(np.ptp(dst_v[:, :2], axis=0).max())
        ids = self.face_raster(dst_v[:, :2], src_v[:, :2], dst_v[:, 2])
        field = self.outer_field(dst_v[:, :2], src_v[:, :2], face)
        inside = ids >= 0
        ys, xs = np.nonzero(inside)
        # Displacement (source - target) is affine per triangle too.
        aff = self._triangle_affines(dst_v[:, :2], src_v[:, :2]).astype(np.float32)
        aff[:, 0, 0] -= 1.0
        aff[:, 1, 1] -= 1.0
        tid = ids[ys, xs]
        xf, yf = xs.astype(np.float32), ys.astype(np.float32)
        mesh = np.zeros_like(field)
        for c in range(2):
            mesh[ys, xs, c] = aff[tid, c, 0] * xf + aff[tid, c, 1] * yf + aff[tid, c, 2]
        f = self.cfg.face_feather
        if f > 0:
            m = inside.astype(np.uint8)
            m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * f + 1, 2 * f + 1)))
            alpha = cv2.GaussianBlur(m.astype(np.float32), (0, 0), f / 2.0)
            alpha[~inside] = 0.0
        else:
            alpha = inside.astype(np.float32)
        disp = alpha[..., None] * mesh + (1.0 - alpha[..., None]) * field
        return self.grid_x + disp[..., 0], self.grid_y + disp[..., 1]


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample ``image`` (HxWxC uint8) at the backward map (bilinear, reflected border)."""
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
