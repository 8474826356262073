"""Images of the evaluation report: JPEG/PNG encoding, curve plots and the region views on disk.

Images are ``HxWx3`` ``uint8`` RGB arrays.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import cv2
import numpy as np

from reenactor.errors import OutputError
from reenactor.eval.runner import ItemResult

def encode_image(rgb: np.ndarray, fmt: str = ".jpg", quality: int = 85) -> bytes:
    """Encode an ``HxWx3`` ``uint8`` RGB image as JPEG (``.jpg``) or PNG (``.png``) bytes."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    ok, buf = cv2.imencode(fmt, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OutputError(f"cannot encode image as {fmt}")
    return buf.tobytes()


_COLORS = {"static": "#1f77b4", "driver": "#7f7f7f", "naive2d": "#ff7f0e", "reenactor": "#d62728"}


def plot_item(result: ItemResult, dpi: int = 72) -> bytes | None:
    """PNG of yaw/pitch/roll and mouth-opening change over time, each method against the driver.

    Returns:
        PNG bytes, or None when the item has no series.
    """
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    if not result.series:
        return None
    fps = result.info.get("fps") or 25.0
    ref_label = "ground truth" if result.info["protocol"] == "self" else "driver"
    panels = (("yaw", "yaw change (deg)"), ("pitch", "pitch change (deg)"), ("roll", "roll change (deg)"), ("mouth_open", "mouth opening change (/IOD)"))
    fig, axes = plt.subplots(2, 2, figsize=(9, 5), sharex=True)
    first = next(iter(result.series.values()))
    for ax, (key, title) in zip(axes.ravel(), panels):
        ref = np.array(first[f"ref_{key}"], dtype=float)
        t = np.arange(len(ref)) / fps
        ax.plot(t, ref, color="black", lw=2.2, label=ref_label)
        for m, s in result.series.items():
            if m == "driver":
                continue
            ax.plot(t, np.array(s[f"out_{key}"], dtype=float), color=_COLORS.get(m, None), lw=1.2, label=m)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("time (s)", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(result.info["name"], fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


REGIONS_DIR = "regions"

REGIONS_NOTE = (
    "Region view: for each item, the frames of the driver (ground truth in the self protocol) with the "
    "widest mouth opening, the strongest blink (smallest lid gap) and the largest |yaw| change since the "
    "first frame, all measured with dlib. Per method (rows): a mouth crop around the output's own dlib "
    "mouth at the widest-mouth frame, an eyes strip at the strongest-blink frame, two background patches "
    "just outside the face box (head outline at their inner edge) left and right at eye height at the "
    "largest-yaw frame (their place is fixed from the portrait's face, the driver's first face for the "
    "driver row, so a still background shows the same pixels), and the whole largest-yaw frame with the "
    "patches outlined. Tiles marked 'mapped': dlib found "
    "no face in that output frame, the crop uses the portrait's landmarks; 'on face': the frame leaves too "
    "little room beside the face and the patch overlaps it."
)


def regions_caption(r: ItemResult) -> str:
    f = r.regions_frames
    return f"widest mouth t={f.get('mouth')}, strongest blink t={f.get('blink')}, largest yaw t={f.get('yaw')}"


def write_regions(results: list[ItemResult], folder: Path, quality: int = 85) -> list[Path]:
    """Write each item's region view as ``folder/<item>.jpg`` (JPEG).

    Args:
        results: item results; those without a region view are skipped.
        folder: created when missing.
        quality: JPEG quality.

    Returns:
        The files written, in ``results`` order.

    Raises:
        OutputError: the folder or a file cannot be written.
    """
    todo = [r for r in results if r.regions is not None]
    if not todo:
        return []
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc}") from exc
    out = []
    for r in todo:
        f = folder / f"{r.info['name']}.jpg"
        write_bytes(f, encode_image(r.regions, ".jpg", quality))
        out.append(f)
    return out


def html_regions(results: list[ItemResult]) -> list[str]:
    """The report's "Regions" section (images embedded as base64 JPEG)."""
    todo = [r for r in results if r.regions is not None]
    if not todo:
        return []
    parts = ["<h2>Regions</h2>", f"<p class='note'>{html.escape(REGIONS_NOTE)}</p>"]
    for protocol in ("self", "cross"):
        for r in todo:
            if r.info["protocol"] != protocol:
                continue
            b64 = base64.b64encode(encode_image(r.regions, ".jpg", 85)).decode("ascii")
            parts.append("<div class='item'>")
            parts.append(f"<h3>{html.escape(r.info['name'])} ({protocol})</h3>")
            parts.append(f"<p class='note'>{html.escape(regions_caption(r))}</p>")
            parts.append(f"<img alt='regions {html.escape(r.info['name'])}' src='data:image/jpeg;base64,{b64}'>")
            parts.append("</div>")
    return parts


def write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
