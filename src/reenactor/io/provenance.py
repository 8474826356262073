"""What reenactor writes into every output file's metadata: made by reenactor, synthetic.

Videos carry the tags as container metadata (MP4/MOV keep ``comment`` and
``description``; the muxer writes its own ``encoder``), images as PNG text
chunks (all keys) or EXIF ``ImageDescription`` and ``Software`` (JPEG, WebP,
TIFF). BMP has no metadata. Read them back with any tag viewer (``ffprobe``,
``exiftool``) or with PyAV / Pillow.
"""

from __future__ import annotations

#: EXIF tag numbers used for images.
EXIF_IMAGE_DESCRIPTION = 0x010E
EXIF_SOFTWARE = 0x0131


def provenance() -> dict[str, str]:
    """``{"software", "comment", "description", "synthetic"}`` strings for an output file."""
    from reenactor import __version__

    software = f"reenactor {__version__}"
    note = f"synthetic: made by {software}, one-shot portrait reenactment (not a recording)"
    return {"software": software, "comment": note, "description": note, "synthetic": "true"}
