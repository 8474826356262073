"""``results.json`` and the self-contained ``report.html`` of an evaluation run.

The tables and summaries are built in :mod:`reenactor.eval.tables`, the
images in :mod:`reenactor.eval.figures`, the docs page in
:mod:`reenactor.eval.report_md`; their public names are re-exported here.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from reenactor.errors import OutputError
from reenactor.eval import winrate as W
from reenactor.eval.figures import REGIONS_DIR, REGIONS_NOTE, encode_image, html_regions, plot_item, write_regions  # noqa: F401
from reenactor.eval.report_md import NOTES_BEGIN, NOTES_END, write_markdown  # noqa: F401
from reenactor.eval.runner import ItemResult
from reenactor.eval.tables import (  # noqa: F401
    AMPLITUDE_NOTE,
    BELOW_NOTE,
    COLUMNS,
    CROSS_COLUMNS,
    DOC_ITEM_COLUMNS,
    METRIC_NOTES,
    SELF_COLUMNS,
    SETS_NOTE,
    WINRATE_NOTE,
    amplitude_rows,
    bold_cells,
    comparison_sections,
    item_detail_rows,
    clean,
    fmt_value,
    half_summaries,
    half_table_rows,
    html_table,
    speed_rows,
    stride_text,
    summarize,
    table_rows,
    winrate_rows,
)


def results_document(results: list[ItemResult], methods: list[str], meta: dict) -> dict:
    """The content of ``results.json`` (JSON-safe).

    Keys: ``meta``; ``summary`` (all items, :func:`summarize`); ``halves``
    (``{half: summarize(items of the half)}``); ``winrates`` (``{half or
    "all": {protocol: {method: {metric: {win, tie, loss, n, rate}}}}}``,
    :mod:`reenactor.eval.winrate`); ``amplitude`` (``{half or "all":
    {protocol: {method: {channel: {median, n, in_target, below_corr}}}}}``,
    :mod:`reenactor.eval.amplitude`); ``criteria`` (self AKD of the defaults
    minus the ``reenactor-ref0`` run, per half, when both ran); ``items``
    (per item: its info, ``half``, ``metrics``, ``wins`` = ``{method: {metric:
    "win" | "tie" | "loss" | None}}`` against naive2d, speed, strips' frames,
    series).
    """
    return clean(
        {
            "meta": meta,
            "summary": summarize(results, methods),
            **half_summaries(results, methods),
            "items": [
                {
                    **r.info,
                    "metrics": r.metrics,
                    "wins": W.item_wins(r.info["protocol"], r.metrics),
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
            f"{stride_text(meta['id_stride'])}; data {meta['data_dir']}; measured with dlib {meta.get('dlib_version')} "
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
        parts.append(html_table(header, rows, bold_cells(protocol, per, methods)))
        errs = {m: c for m, c in summary[protocol]["errors"].items() if c}
        if errs:
            parts.append(f"<p class='note'>failures: {html.escape(json.dumps(errs))}</p>")
    parts.append("<h2>dev and check halves</h2>")
    parts.append(f"<p class='note'>{html.escape(SETS_NOTE)}</p>")
    for title, note, header, rows in comparison_sections(doc, methods):
        parts.append(f"<h3>{html.escape(title)}</h3>")
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        parts.append(html_table(header, rows))
    header, rows = speed_rows(summary, methods)
    parts.append("<h2>speed and memory</h2>")
    parts.append(
        "<p class='note'>fps = output frames / wall seconds of the method's call on this machine "
        f"({html.escape(str(meta.get('cpu')))}). Peak RSS: resident set size of the whole process sampled "
        "every 10 ms from /proc/self/statm while the method ran; rise = peak minus RSS at the call's start "
        "(after gc + malloc_trim), i.e. what the method itself needed, including its returned frames. "
        f"Process ru_maxrss at the end: {meta.get('ru_maxrss_mb', 0):.0f} MiB.</p>"
    )
    parts.append(html_table(header, rows))
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
                    row = [r.info["name"], m] + [fmt_value(r.metrics[m].get(k), f) for k, _, f, _ in cols]
                    rows.append(row)
        parts.append(html_table(header, rows))
        for title, header, rows in item_detail_rows(protocol, doc, methods):
            parts.append(f"<h3>{protocol}: {html.escape(title)}</h3>")
            parts.append(html_table(header, rows))
        for r in items:
            i = r.info
            parts.append("<div class='item'>")
            parts.append(f"<h3>{html.escape(i['name'])} ({html.escape(str(i.get('half')))})</h3>")
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
    parts.extend(html_regions(results))
    parts.append("</body></html>")
    try:
        path.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
