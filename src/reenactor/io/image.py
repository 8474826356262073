"""Reading and writing still images as RGB uint8 arrays.

All arrays here are ``H x W x 3``, ``uint8``, values 0..255, channel order RGB,
C-contiguous.  Decoding uses Pillow; 16-bit colour PNGs, which Pillow can only
truncate to 8 bits, are decoded at full depth with OpenCV (a dependency of
mediapipe) and rounded, when OpenCV is importable.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from reenactor.errors import InputError, OutputError
from reenactor.io.atomic import atomic_output

__all__ = ["read_image", "write_image", "is_image_path", "IMAGE_WRITE_EXTENSIONS"]

# Decoders Image.open may use.  An allow-list keeps out formats that shell out
# to other programs (EPS -> Ghostscript) or that have no magic number and could
# mis-identify other files (TGA).
_READ_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF", "PPM", "AVIF")

# Containers whose extra frames are not animation: multi-picture JPEGs from
# cameras and phones, multi-page TIFFs.  Their first picture is the image.
_STILL_MULTIFRAME_FORMATS = frozenset({"MPO", "TIFF"})

#: Extension -> (Pillow format, save options) for :func:`write_image`.
IMAGE_WRITE_EXTENSIONS: dict[str, tuple[str, dict]] = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
    ".bmp": ("BMP", {}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
}

_EXIF_ORIENTATION = 0x0112


def read_image(
    path: str | os.PathLike,
    max_side: int = 8192,
    min_side: int = 32,
    *,
    what: str = "image",
) -> np.ndarray:
    """Read a still image as an ``H x W x 3`` uint8 RGB array (0..255, C-contiguous).

    The EXIF orientation is applied, so the array is upright as a viewer shows
    it (``H`` and ``W`` are the displayed height and width).  Supported: JPEG
    (and multi-picture MPO, first picture), PNG, WebP, BMP, TIFF (first page),
    GIF (first frame), PPM.  Conversions: grayscale -> 3 equal channels;
    palette -> RGB; any alpha (RGBA, LA, palette or gray with a transparent
    colour) -> composited over white; 16-bit (gray, RGB, RGBA) -> 8 bit by
    ``round(v / 257)``; CMYK/YCbCr/LAB -> RGB by Pillow.  No colour management
    (embedded ICC profiles are ignored).

    Args:
        path: image file.
        max_side: the longest side may be at most this many pixels.
        min_side: the shortest side must be at least this many pixels.
        what: what the file is, for error messages ("portrait" gives
            "cannot read portrait 'x.jpg': ...").

    Raises:
        InputError: the file is missing, a directory, unreadable, not an image
            Pillow can decode, truncated/corrupt, or outside the size limits.
    """
    p = Path(path)

    def fail(reason: str) -> InputError:
        return InputError(f"cannot read {what} {str(path)!r}: {reason}")

    _check_readable_file(p, fail)
    img = _open_image(p, fail, max_side)
    with img:
        w, h = img.size
        if max(w, h) > max_side:
            raise fail(f"{w}x{h} pixels is too large (the longest side may be at most {max_side} pixels)")
        if min(w, h) < min_side:
            raise fail(f"{w}x{h} pixels is too small (the shortest side must be at least {min_side} pixels)")
        deep_png = _is_deep_color_png(img)  # before getexif(), which may load the image
        orientation = _exif_orientation(img)
        try:
            img.load()
            rgb = None
            if deep_png:
                rgb = _read_deep_png_with_opencv(p)
            if rgb is None:
                rgb = _pil_to_rgb8(img)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Pillow reports truncated and corrupt data as OSError, or as
            # SyntaxError/ValueError from some plugins.
            raise fail("the file is truncated or corrupt") from exc
    return np.ascontiguousarray(_apply_orientation(rgb, orientation))


def _open_image(p: Path, fail, max_side: int) -> Image.Image:
    """Pillow's lazy handle on ``p``; ``fail(reason)`` builds the error for what goes wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(p, formats=_read_formats())
    except Image.DecompressionBombError as exc:
        raise fail(f"the image is too large (the longest side may be at most {max_side} pixels)") from exc
    except Image.UnidentifiedImageError as exc:
        raise fail("not an image file") from exc
    except OSError as exc:
        raise fail(_os_reason(exc)) from exc


def write_image(path: str | os.PathLike, rgb: np.ndarray, metadata: dict[str, str] | None = None) -> None:
    """Write an ``H x W x 3`` uint8 RGB array (0..255) to ``path`` atomically.

    The format follows the extension (case-insensitive): ``.png``, ``.jpg`` /
    ``.jpeg`` (quality 95), ``.webp`` (quality 95), ``.bmp``, ``.tif`` /
    ``.tiff``.  The data goes to a temporary file that is renamed onto ``path``
    only when complete (see :func:`reenactor.io.atomic.atomic_output`).
    ``metadata`` (e.g. :func:`reenactor.io.provenance.provenance`) becomes PNG
    text chunks, or EXIF ``ImageDescription`` (its ``comment``) and
    ``Software`` for JPEG, WebP and TIFF; BMP keeps none.

    Raises:
        ValueError: ``rgb`` is not an ``H x W x 3`` uint8 array.
        OutputError: unsupported extension, or the file cannot be written.
    """
    p = Path(path)
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"write_image expects an HxWx3 uint8 RGB array, got shape {shape} dtype {dtype}")
    ext = p.suffix.lower()
    if ext not in IMAGE_WRITE_EXTENSIONS:
        known = ", ".join(IMAGE_WRITE_EXTENSIONS)
        raise OutputError(
            f"cannot write {str(path)!r}: unsupported image extension {ext or '(none)'!r} (use one of {known})"
        )
    fmt, options = IMAGE_WRITE_EXTENSIONS[ext]
    options = {**options, **_metadata_options(fmt, metadata)} if metadata else options
    image = Image.fromarray(np.ascontiguousarray(rgb))  # HxWx3 uint8 -> mode "RGB"
    with atomic_output(p) as tmp:
        try:
            image.save(tmp, format=fmt, **options)
        except OSError as exc:
            raise OutputError(f"cannot write {str(path)!r}: {_os_reason(exc)}") from exc


def _metadata_options(fmt: str, metadata: dict[str, str]) -> dict:
    """PIL ``save`` options carrying ``metadata`` in format ``fmt``."""
    from PIL import PngImagePlugin

    from reenactor.io.provenance import EXIF_IMAGE_DESCRIPTION, EXIF_SOFTWARE

    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in metadata.items():
            info.add_text(key, str(value))
        return {"pnginfo": info}
    if fmt in ("JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[EXIF_IMAGE_DESCRIPTION] = str(metadata.get("comment", ""))
        exif[EXIF_SOFTWARE] = str(metadata.get("software", ""))
        return {"exif": exif}
    return {}


def is_image_path(path: str | os.PathLike) -> bool:
    """True if ``path`` is a file Pillow decodes as a single still image.

    Used to tell a picture from a video.  False for videos, for animations
    (GIF, APNG, WebP with several frames), for missing files and directories,
    and for anything Pillow cannot open or decode.  Multi-picture JPEGs (MPO)
    and multi-page TIFFs count as stills.  An image over Pillow's
    decompression-bomb limit counts as an image (so that :func:`read_image`
    can report its size).  The file is fully decoded, so corrupt files give
    False.
    """
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p, formats=_read_formats()) as img:
                if getattr(img, "n_frames", 1) > 1 and img.format not in _STILL_MULTIFRAME_FORMATS:
                    return False
                img.load()
    except Image.DecompressionBombError:
        return True
    except Exception:  # noqa: BLE001 - any failure to decode means "not an image"
        return False
    return True


# ---------------------------------------------------------------------------
# helpers


def _read_formats() -> tuple[str, ...]:
    """The allowed decoders that this Pillow build has (AVIF is optional)."""
    Image.init()
    return tuple(f for f in _READ_FORMATS if f in Image.OPEN)


def _check_readable_file(p: Path, fail) -> None:
    if not p.exists():
        raise fail("file not found")
    if p.is_dir():
        raise fail("it is a directory, not a file")
    if not p.is_file():
        raise fail("not a regular file")
    if not os.access(p, os.R_OK):
        raise fail("permission denied")


def _os_reason(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _exif_orientation(img: Image.Image) -> int:
    """EXIF (or XMP) orientation 1..8 of ``img``; 1 when absent or invalid."""
    try:
        value = int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - broken EXIF blocks must not stop reading
        return 1
    return value if 1 <= value <= 8 else 1


def _apply_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Transpose ``rgb`` (H x W x C) as ``PIL.ImageOps.exif_transpose`` would."""
    if orientation == 2:  # mirrored
        return rgb[:, ::-1]
    if orientation == 3:  # rotated 180
        return rgb[::-1, ::-1]
    if orientation == 4:  # flipped vertically
        return rgb[::-1]
    if orientation == 5:  # transposed
        return rgb.transpose(1, 0, 2)
    if orientation == 6:  # needs 90 degrees clockwise
        return np.rot90(rgb, k=-1)
    if orientation == 7:  # transversed
        return rgb[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:  # needs 90 degrees counter-clockwise
        return np.rot90(rgb, k=1)
    return rgb


def _has_alpha(img: Image.Image) -> bool:
    return "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info


def _pil_to_rgb8(img: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to H x W x 3 uint8 RGB."""
    mode = img.mode
    if mode.startswith("I;16"):
        return _gray_to_rgb(_scale16(np.asarray(img)))
    if mode == "I":  # 32-bit integers: 16-bit data (PNG/TIFF) or plain 8-bit values
        a = np.asarray(img)
        a = _scale16(np.clip(a, 0, 65535)) if a.max(initial=0) > 255 else np.clip(a, 0, 255).astype(np.uint8)
        return _gray_to_rgb(a)
    if mode == "F":  # float: 0..1 or 0..255
        a = np.asarray(img, dtype=np.float64)
        if a.max(initial=0.0) <= 1.0:
            a = a * 255.0
        return _gray_to_rgb(np.clip(np.rint(a), 0, 255).astype(np.uint8))
    if _has_alpha(img):
        rgba = np.asarray(img.convert("RGBA"))
        return _composite_over_white_u8(rgba[..., :3], rgba[..., 3])
    return np.asarray(img.convert("RGB"))


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)


def _scale16(a: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 with rounding (v / 257, exact for v = 257 * k)."""
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _composite_over_white_u8(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.uint32)[..., None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _is_deep_color_png(img: Image.Image) -> bool:
    """True for 16-bit RGB/RGBA/gray+alpha PNGs, which Pillow truncates to 8 bits."""
    if img.format != "PNG" or img.mode not in ("RGB", "RGBA", "LA"):
        return False
    tile = getattr(img, "tile", None) or []
    return any(isinstance(t.args, str) and t.args.endswith(";16B") for t in tile)


def _read_deep_png_with_opencv(p: Path) -> np.ndarray | None:
    """Decode a 16-bit PNG at full depth to RGB uint8; None if OpenCV is unavailable."""
    try:
        import cv2  # noqa: PLC0415 - optional, only for this rare case
    except ImportError:
        return None
    data = np.fromfile(p, dtype=np.uint8)
    a = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if a is None or a.dtype != np.uint16:
        return None
    if a.ndim == 2:
        return _gray_to_rgb(_scale16(a))
    if a.shape[2] == 2:  # gray + alpha
        color, alpha = np.repeat(a[..., :1], 3, axis=2), a[..., 1]
    elif a.shape[2] == 3:  # BGR
        return _scale16(a[..., ::-1])
    else:  # BGRA
        color, alpha = a[..., 2::-1], a[..., 3]
    al = alpha.astype(np.float64)[..., None] / 65535.0
    out = color.astype(np.float64) / 65535.0 * al + (1.0 - al)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
