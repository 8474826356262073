"""Summaries and tables of the evaluation report (shared by the HTML report and the docs page).

Tables list methods as rows. Protocol means are unweighted means over items
of the per-item values (NaN entries skipped; an item where a method failed
contributes ``face_found = 0`` and, in the cross protocol,
``id_verify = 0``). The halves (``dev``, ``check``; :mod:`reenactor.eval.sets`)
are summarised separately and shown side by side.
"""

from __future__ import annotations

import html
import math

import numpy as np

from reenactor.eval import amplitude as A
from reenactor.eval import metrics as M
from reenactor.eval import winrate as W
from reenactor.eval.amplitude import AMPLITUDE_NOTE, BELOW_NOTE
from reenactor.eval.runner import ItemResult
from reenactor.eval.setrule import SETS_NOTE  # noqa: F401 (re-exported for the writers)
from reenactor.eval.sets import HALVES
from reenactor.eval.winrate import WINRATE_NOTE

#: (key, header, format, direction) per protocol; direction "+" higher is better, "-" lower, "1" closer to 1.
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
    ("mouth_ssim", "inner-mouth SSIM", "{:.3f}", "+"),
    ("mouth_l1", "inner-mouth L1", "{:.4f}", "-"),
    ("mouth_contrast", "inner-mouth contrast", "{:.2f}", "1"),
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


def stride_text(stride: int) -> str:
    return "every frame" if stride == 1 else f"every {stride}th frame"


METRIC_NOTES = {
    "self": (
        "Self-reenactment: frame 0 of a clip is the portrait, the clip drives it, frames 1..N-1 are "
        "ground truth. PSNR/SSIM/L1 on a fixed 256x256 face crop (1.4x the union of the ground truth's "
        "dlib landmark boxes); AKD = mean distance of the 68 dlib landmarks in pixels at 256x256; ID dist = "
        "dlib descriptor distance to the ground-truth frame; pose err = geodesic angle between output and "
        "ground-truth head motion since frame 0; expr corr = mean Pearson correlation of the four "
        "expression features' change; jitter = mean landmark second difference (% of inter-ocular distance); "
        "inner-mouth SSIM / L1 = inside the ground truth's dlib inner-lip contour, on frames where it is open "
        "by at least 0.1 IOD (reenactor.eval.mouth_region; compare inner-mouth modes without the driver's own mouth, "
        "which in this protocol is the answer); inner-mouth contrast = the output's grey-level spread there over "
        "the truth's (1 = the truth's; a flat fill reads near 0, noise raises it)."
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


def clean(v):
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
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


def fmt_value(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return fmt.format(v)


def _best(values: dict, direction: str, exclude: tuple[str, ...]) -> set[str]:
    cand = {m: v for m, v in values.items() if m not in exclude and v is not None and math.isfinite(v)}
    if not cand:
        return set()
    if direction == "1":
        cand = {m: abs(math.log(v)) if v > 0 else math.inf for m, v in cand.items()}
        direction = "-"
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
        rows.append([m] + [fmt_value(per_method[m].get(k), f) for k, _, f, _ in cols])
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
            fps = "n/a (trivial)" if m in ("static", "driver") else fmt_value(sp["fps"], "{:.2f}")
            rows.append(
                [protocol, m, str(sp["frames"]), fmt_value(sp["seconds"], "{:.1f}"), fps, fmt_value(sp["peak_rss_mb"], "{:.0f}"), fmt_value(sp["max_rss_rise_mb"], "{:.0f}")]
            )
    return header, rows


def html_table(header: list[str], rows: list[list[str]], bold: list[set[int]] | None = None) -> str:
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


def bold_cells(protocol: str, per_method: dict, methods: list[str]) -> list[set[int]]:
    cols = COLUMNS[protocol]
    shown = [m for m in methods if m in per_method]
    best_by_col = []
    for k, _, _, d in cols:
        vals = {m: per_method[m].get(k) for m in shown}
        best_by_col.append(_best(vals, d, exclude=("driver", "static")))
    return [{j + 1 for j, b in enumerate(best_by_col) if m in b} for m in shown]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------ halves, win rates, amplitude
#: Headline columns shown per half (dev | check side by side).
HEADLINE = {
    "self": ("psnr", "ssim", "akd", "id_dist", "rot_err", "mouth_open_corr", "eye_open_corr", "brow_raise_corr", "jitter"),
    "cross": ("id_verify", "id_leak", "rot_err", "mouth_open_corr", "eye_open_corr", "brow_raise_corr", "jitter", "face_found"),
}
_EXTRA_COLUMNS = {"rot_err": ("pose err deg", "{:.2f}", "-"), "mouth_open_corr": ("mouth open corr", "{:.2f}", "+"),
                  "eye_open_corr": ("eye open corr", "{:.2f}", "+"), "brow_raise_corr": ("brow corr", "{:.2f}", "+")}


def _column(protocol: str, key: str) -> tuple[str, str, str]:
    for k, head, fmt, d in COLUMNS[protocol]:
        if k == key:
            return head, fmt, d
    return _EXTRA_COLUMNS[key]


def halves_present(doc: dict) -> list[str]:
    """The halves with items in ``doc["halves"]``, in :data:`HALVES` order."""
    return [h for h in HALVES if doc.get("halves", {}).get(h)]


def _row_halves(doc: dict) -> list[str]:
    """Halves shown as rows: each present half, plus ``all`` when both are present."""
    present = halves_present(doc)
    return present + ["all"] if len(present) > 1 else present


def half_table_rows(protocol: str, doc: dict, methods: list[str]) -> tuple[list[str], list[list[str]]]:
    """Headline table: per method, each :data:`HEADLINE` column once per half (``dev | check``)."""
    halves = [h for h in halves_present(doc) if protocol in doc["halves"][h]]
    header = ["method"]
    for k in HEADLINE[protocol]:
        head = _column(protocol, k)[0]
        header += [f"{head} {h}" for h in halves]
    rows = []
    for m in methods:
        if not any(m in doc["halves"][h][protocol]["methods"] for h in halves):
            continue
        row = [m]
        for k in HEADLINE[protocol]:
            fmt = _column(protocol, k)[1]
            row += [fmt_value(doc["halves"][h][protocol]["methods"].get(m, {}).get(k), fmt) for h in halves]
        rows.append(row)
    return header, rows


_SHORT = {"mouth_open_corr": "mouth", "mouth_width_corr": "width", "eye_open_corr": "eye", "brow_raise_corr": "brow",
          "id_verify": "ID verify", "id_dist": "ID dist", "id_leak": "ID leak", "face_found": "found", "rot_err": "pose"}


def _short(key: str) -> str:
    if key.startswith("amp_err_"):
        return "amp " + key[len("amp_err_"):]
    return _SHORT.get(key, key.replace("_err", " err"))


def winrate_rows(protocol: str, doc: dict) -> tuple[list[str], list[list[str]]]:
    """Win-rate table: rows (method, half), columns the metrics of :data:`reenactor.eval.winrate.WIN_METRICS`
    and ``all``; cells ``rate% W-T-L``."""
    keys = [k for k, _ in W.WIN_METRICS[protocol]] + ["all"]
    header = ["method", "half"] + [_short(k) for k in keys]
    rows = []
    wr = doc.get("winrates", {})
    for h in _row_halves(doc):
        for m, per in wr.get(h, {}).get(protocol, {}).items():
            cells = []
            for k in keys:
                c = per.get(k, {})
                cells.append("n/a" if not c.get("n") else f"{100 * c['rate']:.0f}% {c['win']}-{c['tie']}-{c['loss']}")
            rows.append([m, h] + cells)
    rows.sort(key=lambda r: (r[0], [*HALVES, "all"].index(r[1])))
    return header, rows


def amplitude_rows(protocol: str, doc: dict, methods: list[str], which: str = "median") -> tuple[list[str], list[list[str]]]:
    """Amplitude table: rows (method, half), per channel the median ratio ``which="median"``
    (cell ``ratio (n items, share in the target band)``) or the median below-median correlation ``which="below_corr"``."""
    header = ["method", "half"] + list(A.CHANNELS)
    rows = []
    amp = doc.get("amplitude", {})
    for m in methods:
        for h in _row_halves(doc):
            per = amp.get(h, {}).get(protocol, {}).get(m)
            if per is None:
                continue
            cells = []
            for c in A.CHANNELS:
                s = per[c]
                if which == "median":
                    cells.append("n/a" if not s["n"] else f"{s['median']:.2f} ({s['n']}, {100 * s['in_target']:.0f}%)")
                else:
                    cells.append(fmt_value(s["below_corr"], "{:.2f}"))
            rows.append([m, h] + cells)
    return header, rows


def half_summaries(results: list[ItemResult], methods: list[str]) -> dict:
    """``{"halves", "winrates", "amplitude", "criteria"}`` parts of ``results.json`` (see :func:`reenactor.eval.report.results_document`)."""
    by_half = {h: [r for r in results if r.info.get("half") == h] for h in HALVES}
    groups = {h: rs for h, rs in by_half.items() if rs}
    out: dict = {"halves": {h: summarize(rs, methods) for h, rs in groups.items()}, "winrates": {}, "amplitude": {}, "criteria": {}}
    for h, rs in [*groups.items(), ("all", results)]:
        out["winrates"][h] = {}
        out["amplitude"][h] = {}
        for protocol in ("self", "cross"):
            items = [r for r in rs if r.info["protocol"] == protocol]
            if not items:
                continue
            out["winrates"][h][protocol] = W.win_rates(protocol, [W.item_wins(protocol, r.metrics) for r in items])
            out["amplitude"][h][protocol] = {
                m: A.summarize([r.metrics[m] for r in items if m in r.metrics]) for m in methods if any(m in r.metrics for r in items)
            }
        selfs = [r for r in rs if r.info["protocol"] == "self"]
        d = [r.metrics["reenactor"].get("akd", math.nan) - r.metrics["reenactor-ref0"].get("akd", math.nan)
             for r in selfs if "reenactor" in r.metrics and "reenactor-ref0" in r.metrics]
        if d:
            out["criteria"][h] = {"self_akd_default_minus_ref0": M.nanmean(d), "items": len(d)}
    return out


def comparison_sections(doc: dict, methods: list[str]) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """The halves-side-by-side sections of the report: ``(title, note, header, rows)`` per table.

    Per protocol present: the headline table per half, the win rates against
    naive2d, the amplitude ratios and the below-median correlations.
    """
    out = []
    for protocol in ("self", "cross"):
        if protocol not in doc.get("summary", {}):
            continue
        halves = " | ".join(f"{h} ({doc['halves'][h][protocol]['items']} items)" for h in halves_present(doc) if protocol in doc["halves"][h])
        header, rows = half_table_rows(protocol, doc, methods)
        out.append((f"{protocol}: headline per half ({halves})", "", header, rows))
        header, rows = winrate_rows(protocol, doc)
        if rows:
            out.append((f"{protocol}: win rates against naive2d", WINRATE_NOTE, header, rows))
        header, rows = amplitude_rows(protocol, doc, [m for m in methods if m != "driver"])
        if rows:
            out.append((f"{protocol}: expression amplitude ratio (output / {'ground truth' if protocol == 'self' else 'driver'})", AMPLITUDE_NOTE, header, rows))
            header, rows = amplitude_rows(protocol, doc, [m for m in methods if m != "driver"], which="below_corr")
            out.append((f"{protocol}: follows below the reference", BELOW_NOTE, header, rows))
    for h, c in doc.get("criteria", {}).items():
        out.append((
            f"self AKD, defaults vs --reference-frame 0 ({h})",
            "Criterion: the default run's self AKD within 0.1 px of the reference-frame-0 run.",
            ["half", "items", "AKD(reenactor) - AKD(reenactor-ref0) px"],
            [[h, str(c["items"]), fmt_value(c["self_akd_default_minus_ref0"], "{:+.3f}")]],
        ))
    return out


def item_detail_rows(protocol: str, doc: dict, methods: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per-item tables: amplitude ratio per channel, and win/tie/loss per metric against naive2d."""
    items = [i for i in doc["items"] if i["protocol"] == protocol]
    amp_h = ["item", "half", "method"] + list(A.CHANNELS)
    amp_rows = [[i["name"], i.get("half", ""), m] + [fmt_value(i["metrics"][m].get(f"amp_{c}"), "{:.2f}") for c in A.CHANNELS]
                for i in items for m in methods if m in i["metrics"] and m != "driver"]
    keys = [k for k, _ in W.WIN_METRICS[protocol]]
    win_h = ["item", "half", "method"] + [_short(k) for k in keys]
    mark = {"win": "W", "tie": "T", "loss": "L", None: "-"}
    win_rows = [[i["name"], i.get("half", ""), m] + [mark[w.get(k)] for k in keys]
                for i in items for m, w in i.get("wins", {}).items()]
    return [("amplitude ratio per item", amp_h, amp_rows), ("wins against naive2d per item (W/T/L, - = n/a)", win_h, win_rows)]
