"""Summaries, ``results.json``, the self-contained ``report.html`` and the docs markdown.

Tables list methods as rows. Protocol means are unweighted means over items
of the per-item values (NaN entries skipped; an item where a method failed
contributes ``face_found = 0`` and, in the cross protocol,
``id_verify = 0``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
from pathlib import Path

import cv2
import numpy as np

from reenactor.errors import OutputError
from reenactor.eval import metrics as M
from reenactor.eval.runner import ItemResult

#: (key, header, format, direction) per protocol; direction "+" higher is better, "-" lower.
SELF_COLUMNS = (
    ("psnr", "PSNR dB", "{:.2f}", "+"),
    ("ssim", "SSIM", "{:.3f}", "+"),
    ("l1", "L1", "{:.4f}", "-"),
    ("akd", "AKD px", "{:.2f}", "-"),
    ("id_dist", "ID dist", "{:.3f}", "-"),
    ("rot_err", "pose err deg", "{:.2f}", "-"),
    ("expr_corr", "expr corr", "{:.2f}", "+"),
    ("jitter", "jitter %IOD", "{:.2f}", "-"),
    ("face_found", "face found", "{:.3f}", "+"),
)
CROSS_COLUMNS = (
    ("id_verify", "ID verify", "{:.3f}", "+"),
    ("id_dist", "ID dist", "{:.3f}", "-"),
    ("id_leak", "ID leak", "{:.3f}", "-"),
    ("yaw_err", "yaw err", "{:.2f}", "-"),
    ("pitch_err", "pitch err", "{:.2f}", "-"),
    ("roll_err", "roll err", "{:.2f}", "-"),
    ("yaw_corr", "yaw corr", "{:.2f}", "+"),
    ("pitch_corr", "pitch corr", "{:.2f}", "+"),
    ("roll_corr", "roll corr", "{:.2f}", "+"),
    ("mouth_open_corr", "mouth open corr", "{:.2f}", "+"),
    ("mouth_width_corr", "mouth width corr", "{:.2f}", "+"),
    ("eye_open_corr", "eye open corr", "{:.2f}", "+"),
    ("brow_raise_corr", "brow corr", "{:.2f}", "+"),
    ("expr_mae", "expr MAE IOD", "{:.3f}", "-"),
    ("jitter", "jitter %IOD", "{:.2f}", "-"),
    ("face_found", "face found", "{:.3f}", "+"),
)
COLUMNS = {"self": SELF_COLUMNS, "cross": CROSS_COLUMNS}

#: Columns of the per-item tables in the docs page (the HTML report has all).
DOC_ITEM_COLUMNS = {
    "self": ("psnr", "ssim", "akd", "id_dist", "rot_err", "expr_corr", "jitter"),
    "cross": ("id_verify", "id_dist", "yaw_corr", "roll_corr", "mouth_open_corr", "expr_mae", "jitter", "face_found"),
}


def _stride_text(stride: int) -> str:
    return "every frame" if stride == 1 else f"every {stride}th frame"


METRIC_NOTES = {
    "self": (
        "Self-reenactment: frame 0 of a clip is the portrait, the clip drives it, frames 1..N-1 are "
        "ground truth. PSNR/SSIM/L1 on a fixed 256x256 face crop (1.4x the union of the ground truth's "
        "dlib landmark boxes); AKD = mean distance of the 68 dlib landmarks in pixels at 256x256; ID dist = "
        "dlib descriptor distance to the ground-truth frame; pose err = geodesic angle between output and "
        "ground-truth head motion since frame 0; expr corr = mean Pearson correlation of the four "
        "expression features' change; jitter = mean landmark second difference (% of inter-ocular distance)."
    ),
    "cross": (
        "Cross-reenactment: a portrait of one person, a clip of another. ID verify = share of sampled output "
        "frames within 0.6 of the portrait's dlib descriptor (no face = failure); ID dist = mean distance to "
        "the portrait; ID leak = share of frames closer to the driver's identity than to the portrait's; "
        "yaw/pitch/roll err = mean |change since frame 0, output - driver| in degrees (relative rotations "
        "R_t R_0^T from solvePnP on dlib landmarks), corr = Pearson correlation of those changes; expression "
        "corr/MAE on mouth opening, mouth width, eye opening and brow raise (each / inter-ocular distance, "
        "change since frame 0); jitter = mean landmark second difference (% IOD; the driver row is the "
        "driver's own jitter); face found = share of output frames where dlib finds a face."
    ),
}


def _clean(v):
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return round(f, 6) if math.isfinite(f) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def summarize(results: list[ItemResult], methods: list[str]) -> dict:
    """Per protocol and method: mean of every metric over items, plus speed.

    Returns:
        ``{protocol: {"methods": {method: {metric: mean}}, "speed": {method: {...}},
        "items": int, "errors": {method: count}}}``.
    """
    out: dict = {}
    for protocol in ("self", "cross"):
        items = [r for r in results if r.info["protocol"] == protocol]
        if not items:
            continue
        table: dict = {}
        speed: dict = {}
        errors: dict = {}
        for m in methods:
            rows = [r.metrics[m] for r in items if m in r.metrics]
            if not rows:
                continue
            keys = sorted({k for row in rows for k in row})
            table[m] = {k: M.nanmean(row.get(k, float("nan")) for row in rows) for k in keys}
            sp = [r.speed[m] for r in items if m in r.speed]
            frames = sum(s["frames"] for s in sp if s["fps"] is not None)
            secs = sum(s["seconds"] for s in sp if s["fps"] is not None)
            peaks = [s["peak_rss_mb"] for s in sp if s["peak_rss_mb"] is not None]
            rises = [s["rss_rise_mb"] for s in sp if s["rss_rise_mb"] is not None]
            speed[m] = {
                "frames": sum(s["frames"] for s in sp),
                "seconds": sum(s["seconds"] for s in sp),
                "fps": (frames / secs) if secs > 0 and frames else None,
                "peak_rss_mb": max(peaks) if peaks else None,
                "max_rss_rise_mb": max(rises) if rises else None,
            }
            errors[m] = sum(1 for r in items if m in r.errors)
        out[protocol] = {"methods": table, "speed": speed, "items": len(items), "errors": errors}
    return out


def results_document(results: list[ItemResult], methods: list[str], meta: dict) -> dict:
    """The content of ``results.json`` (JSON-safe)."""
    return _clean(
        {
            "meta": meta,
            "summary": summarize(results, methods),
            "items": [
                {
                    **r.info,
                    "metrics": r.metrics,
                    "speed": r.speed,
                    "errors": r.errors,
                    "strip_rows": r.strip_rows,
                    "strip_frames": r.strip_times,
                    "regions_frames": r.regions_frames,
                    "regions_notes": r.regions_notes,
                    "series": r.series,
                }
                for r in results
            ],
        }
    )


def write_json(doc: dict, path: Path) -> None:
    """Write ``doc`` as indented JSON (no NaN).

    Raises:
        OutputError: the file cannot be written.
    """
    try:
        path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc


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


def _fmt(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return fmt.format(v)


def _best(values: dict, direction: str, exclude: tuple[str, ...]) -> set[str]:
    cand = {m: v for m, v in values.items() if m not in exclude and v is not None and math.isfinite(v)}
    if not cand:
        return set()
    target = max(cand.values()) if direction == "+" else min(cand.values())
    return {m for m, v in cand.items() if v == target}


def table_rows(protocol: str, per_method: dict, methods: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows (methods as rows) of a protocol's metric table."""
    cols = COLUMNS[protocol]
    header = ["method"] + [c[1] for c in cols]
    rows = []
    for m in methods:
        if m not in per_method:
            continue
        rows.append([m] + [_fmt(per_method[m].get(k), f) for k, _, f, _ in cols])
    return header, rows


def speed_rows(summary: dict, methods: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the speed/memory table (both protocols pooled per protocol)."""
    header = ["protocol", "method", "frames", "seconds", "fps", "peak RSS MiB", "max RSS rise MiB"]
    rows = []
    for protocol, s in summary.items():
        for m in methods:
            sp = s["speed"].get(m)
            if sp is None:
                continue
            fps = "n/a (trivial)" if m in ("static", "driver") else _fmt(sp["fps"], "{:.2f}")
            rows.append(
                [protocol, m, str(sp["frames"]), _fmt(sp["seconds"], "{:.1f}"), fps, _fmt(sp["peak_rss_mb"], "{:.0f}"), _fmt(sp["max_rss_rise_mb"], "{:.0f}")]
            )
    return header, rows


def _html_table(header: list[str], rows: list[list[str]], bold: list[set[int]] | None = None) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        cells = []
        for j, c in enumerate(r):
            text = html.escape(c)
            if bold and j in bold[i]:
                text = f"<b>{text}</b>"
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _bold_cells(protocol: str, per_method: dict, methods: list[str]) -> list[set[int]]:
    cols = COLUMNS[protocol]
    shown = [m for m in methods if m in per_method]
    best_by_col = []
    for k, _, _, d in cols:
        vals = {m: per_method[m].get(k) for m in shown}
        best_by_col.append(_best(vals, d, exclude=("driver", "static")))
    return [{j + 1 for j, b in enumerate(best_by_col) if m in b} for m in shown]


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
.item{margin:18px 0 30px;border-top:1px solid #ddd;padding-top:10px}
.note{color:#555;font-size:13px;max-width:1100px}
img{max-width:100%}
"""


def write_html(doc: dict, results: list[ItemResult], methods: list[str], path: Path) -> None:
    """Write the self-contained report (tables, per-item rows, strips and plots as base64).

    Raises:
        OutputError: the file cannot be written.
    """
    meta = doc["meta"]
    summary = doc["summary"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>reenactor evaluation</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>reenactor evaluation</h1>",
        "<p class='note'>"
        + html.escape(
            f"protocol {meta['protocol']}, up to {meta['max_frames']} frames per clip, identity on "
            f"{_stride_text(meta['id_stride'])}; data {meta['data_dir']}; measured with dlib {meta.get('dlib_version')} "
            f"(HOG detector, 68-point predictor averaged over the frame and its mirror image, ResNet descriptor), independent of the pipeline's mediapipe. "
            f"Wall time {meta.get('wall_seconds', 0):.0f} s. Bold: best non-bound method per column "
            "(static and driver are bounds)."
        )
        + "</p>",
    ]
    for protocol in ("self", "cross"):
        if protocol not in summary:
            continue
        per = summary[protocol]["methods"]
        header, rows = table_rows(protocol, per, methods)
        parts.append(f"<h2>{protocol} protocol: {summary[protocol]['items']} items</h2>")
        parts.append(f"<p class='note'>{html.escape(METRIC_NOTES[protocol])}</p>")
        parts.append(_html_table(header, rows, _bold_cells(protocol, per, methods)))
        errs = {m: c for m, c in summary[protocol]["errors"].items() if c}
        if errs:
            parts.append(f"<p class='note'>failures: {html.escape(json.dumps(errs))}</p>")
    header, rows = speed_rows(summary, methods)
    parts.append("<h2>speed and memory</h2>")
    parts.append(
        "<p class='note'>fps = output frames / wall seconds of the method's call on this machine "
        f"({html.escape(str(meta.get('cpu')))}). Peak RSS: resident set size of the whole process sampled "
        "every 10 ms from /proc/self/statm while the method ran; rise = peak minus RSS at the call's start "
        "(after gc + malloc_trim), i.e. what the method itself needed, including its returned frames. "
        f"Process ru_maxrss at the end: {meta.get('ru_maxrss_mb', 0):.0f} MiB.</p>"
    )
    parts.append(_html_table(header, rows))
    for protocol in ("self", "cross"):
        items = [r for r in results if r.info["protocol"] == protocol]
        if not items:
            continue
        parts.append(f"<h2>{protocol} protocol: per item</h2>")
        cols = COLUMNS[protocol]
        header = ["item", "method"] + [c[1] for c in cols]
        rows = []
        for r in items:
            for m in methods:
                if m in r.metrics:
                    row = [r.info["name"], m] + [_fmt(r.metrics[m].get(k), f) for k, _, f, _ in cols]
                    rows.append(row)
        parts.append(_html_table(header, rows))
        for r in items:
            i = r.info
            parts.append("<div class='item'>")
            parts.append(f"<h3>{html.escape(i['name'])}</h3>")
            desc = (
                f"portrait {i['portrait']} ({i['portrait_size'][0]}x{i['portrait_size'][1]}); driver {i['driver']} "
                f"({i['driver_size'][0]}x{i['driver_size'][1]}, {i['fps']} fps, {i['frames']} frames, "
                f"audio: {'yes' if i['has_audio'] else 'no'}). {i['why']}"
            )
            parts.append(f"<p class='note'>{html.escape(desc)}</p>")
            if r.errors:
                parts.append(f"<p class='note'>errors: {html.escape(json.dumps(r.errors))}</p>")
            if r.strip is not None:
                b64 = base64.b64encode(encode_image(r.strip, ".jpg", 85)).decode("ascii")
                parts.append(
                    f"<p class='note'>rows: {html.escape(', '.join(r.strip_rows))}; columns: frames "
                    f"{', '.join(map(str, r.strip_times))} (face crops)</p>"
                )
                parts.append(f"<img alt='strip {html.escape(i['name'])}' src='data:image/jpeg;base64,{b64}'>")
            png = plot_item(r)
            if png:
                b64 = base64.b64encode(png).decode("ascii")
                parts.append(f"<img alt='curves {html.escape(i['name'])}' src='data:image/png;base64,{b64}'>")
            parts.append("</div>")
    parts.extend(_html_regions(results))
    parts.append("</body></html>")
    try:
        path.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_markdown(
    doc: dict,
    results: list[ItemResult],
    methods: list[str],
    md_path: Path,
    asset_dir: Path,
    strip_items: tuple[str, ...],
    command: str,
) -> list[Path]:
    """Write ``docs/benchmarks.md`` and its images (small JPEG strips, one PNG plot, region views).

    The region views of every item go to ``asset_dir/regions/<item>.jpg`` and
    are linked from a "Regions" section.

    Args:
        doc: from :func:`results_document`.
        results: the item results (strips, series).
        methods: method order.
        md_path: markdown file to write.
        asset_dir: folder for the images (created; relative links from ``md_path``).
        strip_items: names of the items whose strips go into the docs.
        command: the command that regenerates the page.

    Returns:
        The image files written.

    Raises:
        OutputError: files cannot be written.
    """
    try:
        asset_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {asset_dir}: {exc}") from exc
    for old in [*asset_dir.glob("*"), *(asset_dir / REGIONS_DIR).glob("*")]:
        if old.suffix in (".jpg", ".png") and old.is_file():
            old.unlink()
    meta = doc["meta"]
    summary = doc["summary"]
    rel = Path(os.path.relpath(asset_dir, md_path.parent))
    written: list[Path] = []
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by scripts/make_benchmarks.sh; do not edit by hand. -->",
        "",
        f"Regenerate with `{command}` (about {meta.get('wall_seconds', 0) / 60:.0f} min on "
        f"{meta.get('cpu_count')} CPU cores). The full report with every strip and curve is "
        "`report.html` in the output folder; the numbers are in `results.json`.",
        "",
        f"Measured {meta.get('date')} with reenactor {meta.get('reenactor_version')} (git {meta.get('git')}), "
        f"dlib {meta.get('dlib_version')}; up to {meta['max_frames']} frames per clip, identity descriptors on "
        f"{_stride_text(meta['id_stride'])}. All metrics use dlib (HOG detector, 68 landmarks averaged "
        "over the frame and its mirror image, ResNet descriptor), never the pipeline's mediapipe. The sets are fixed in `src/reenactor/eval/sets.tsv`.",
        "",
        "Methods: **static** = the portrait unchanged (identity bound), **driver** = the driver frames "
        "(motion bound; left out of the self protocol, where it is the ground truth), **naive2d** = 2D "
        "landmark deltas + Delaunay piecewise-affine warp, **reenactor** = the pipeline with its default "
        "config.",
        "",
    ]
    for protocol in ("self", "cross"):
        if protocol not in summary:
            continue
        per = summary[protocol]["methods"]
        header, rows = table_rows(protocol, per, methods)
        lines += [f"## {protocol.capitalize()}-reenactment ({summary[protocol]['items']} items)", "", METRIC_NOTES[protocol], ""]
        lines += [_md_table(header, rows), ""]
        errs = {m: c for m, c in summary[protocol]["errors"].items() if c}
        if errs:
            lines += [f"Failures (items): {errs}", ""]
        items = [r for r in results if r.info["protocol"] == protocol]
        lines += ["Items:", ""]
        for r in items:
            i = r.info
            src = f"{i['portrait']} <- " if protocol == "cross" else ""
            lines.append(
                f"- `{i['name']}`: {src}{i['driver']} ({i['driver_size'][0]}x{i['driver_size'][1]}, "
                f"{i['fps']} fps, {i['frames']} frames, audio {'yes' if i['has_audio'] else 'no'}): {i['why']}"
            )
        lines.append("")
        keys = DOC_ITEM_COLUMNS[protocol]
        cols = [c for c in COLUMNS[protocol] if c[0] in keys]
        header = ["item", "method"] + [c[1] for c in cols]
        rows = []
        for r in items:
            for m in methods:
                if m in r.metrics and m not in ("static", "driver"):
                    rows.append([r.info["name"], m] + [_fmt(r.metrics[m].get(k), f) for k, _, f, _ in cols])
        lines += ["Per item (the bounds are in report.html):", "", _md_table(header, rows), ""]
        for r in items:
            if r.info["name"] not in strip_items or r.strip is None:
                continue
            small = cv2.resize(r.strip, (r.strip.shape[1] * 3 // 4, r.strip.shape[0] * 3 // 4), interpolation=cv2.INTER_AREA)
            f = asset_dir / f"{protocol}_{r.info['name']}.jpg"
            _write_bytes(f, encode_image(small, ".jpg", 72))
            written.append(f)
            lines += [
                f"**{r.info['name']}** (rows: {', '.join(r.strip_rows)}; frames {', '.join(map(str, r.strip_times))}):",
                "",
                f"![{r.info['name']}]({(rel / f.name).as_posix()})",
                "",
            ]
    header, rows = speed_rows(summary, methods)
    lines += [
        "## Speed and memory",
        "",
        f"On {meta.get('cpu')} ({meta.get('cpu_count')} cores). fps = output frames / wall seconds of the "
        "method's call (portrait analysis included, model loading excluded). Peak RSS = the whole "
        "process's resident set sampled every 10 ms from /proc/self/statm while the method ran (includes "
        "the evaluator's own models and decoded clips); rise = peak minus RSS at the call's start (after "
        "gc + malloc_trim), i.e. what the method itself needed, including the list of output frames it returns. "
        f"Process ru_maxrss at the end: {meta.get('ru_maxrss_mb', 0):.0f} MiB.",
        "",
        _md_table(header, rows),
        "",
    ]
    region_files = write_regions(results, asset_dir / REGIONS_DIR)
    written.extend(region_files)
    if region_files:
        lines += ["## Regions", "", REGIONS_NOTE, ""]
        by_name = {f.stem: f for f in region_files}
        for protocol in ("self", "cross"):
            for r in results:
                f = by_name.get(r.info["name"])
                if r.info["protocol"] != protocol or f is None:
                    continue
                lines += [
                    f"**{r.info['name']}** ({protocol}; {_regions_caption(r)}):",
                    "",
                    f"![regions {r.info['name']}]({(rel / REGIONS_DIR / f.name).as_posix()})",
                    "",
                ]
    plotted = [r for r in results if r.info["name"] in strip_items and r.info["protocol"] == "cross"]
    if plotted:
        png = plot_item(plotted[0], dpi=60)
        if png:
            f = asset_dir / f"curves_{plotted[0].info['name']}.png"
            _write_bytes(f, png)
            written.append(f)
            lines += ["## Curves", "", f"Pose and mouth-opening change over time, `{plotted[0].info['name']}`:", "", f"![curves]({(rel / f.name).as_posix()})", ""]
    notes = _kept_notes(md_path)
    lines += ["## Notes", "", notes or f"{NOTES_BEGIN}\n{NOTES_END}", ""]
    try:
        md_path.write_text("\n".join(lines), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {md_path}: {exc}") from exc
    return written


NOTES_BEGIN = "<!-- BEGIN NOTES (kept when the page is regenerated) -->"
NOTES_END = "<!-- END NOTES -->"


def _kept_notes(md_path: Path) -> str | None:
    """The hand-written notes block of an existing page, markers included, or None."""
    if not md_path.is_file():
        return None
    text = md_path.read_text(encoding="utf-8")
    m = re.search(re.escape(NOTES_BEGIN) + r".*?" + re.escape(NOTES_END), text, flags=re.S)
    return m.group(0) if m else None


#: Sub-folder (of the eval output folder and of the docs assets) holding the region strips.
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


def _regions_caption(r: ItemResult) -> str:
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
        _write_bytes(f, encode_image(r.regions, ".jpg", quality))
        out.append(f)
    return out


def _html_regions(results: list[ItemResult]) -> list[str]:
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
            parts.append(f"<p class='note'>{html.escape(_regions_caption(r))}</p>")
            parts.append(f"<img alt='regions {html.escape(r.info['name'])}' src='data:image/jpeg;base64,{b64}'>")
            parts.append("</div>")
    return parts


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
