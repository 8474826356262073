"""Per-item wins against the naive 2D warp, and win rates per half.

For every item, every metric of :data:`WIN_METRICS` and every method other
than the baseline and the bounds, the method *wins* when its value is better
than ``naive2d``'s on that item by more than the metric's tie tolerance,
*loses* when worse by more, and *ties* otherwise (values within
:data:`TIE_TOL`, e.g. both 1.0 ID verify). Items where either value is
missing (NaN, the method failed) are ``n/a`` and not counted. The win rate
of a half is wins / (wins + ties + losses): the share of items won, ties
counting as not won.

The amplitude channels enter as ``amp_err_C = |log(amp_C)|``, the distance of
the amplitude ratio from 1 on a log scale (0.5x and 2x are equally wrong),
lower is better.
"""

from __future__ import annotations

import math

from reenactor.eval.amplitude import CHANNELS

BASELINE = "naive2d"
#: Methods that are bounds, not competitors.
BOUNDS = ("static", "driver")

#: (metric key, direction: "+" higher is better, "-" lower is better) per protocol.
WIN_METRICS = {
    "self": (
        ("psnr", "+"), ("ssim", "+"), ("akd", "-"), ("id_dist", "-"), ("rot_err", "-"),
        ("mouth_open_corr", "+"), ("eye_open_corr", "+"), ("brow_raise_corr", "+"), ("jitter", "-"),
    ),
    "cross": (
        ("id_verify", "+"), ("id_dist", "-"), ("id_leak", "-"),
        ("yaw_err", "-"), ("pitch_err", "-"), ("roll_err", "-"),
        ("mouth_open_corr", "+"), ("mouth_width_corr", "+"), ("eye_open_corr", "+"), ("brow_raise_corr", "+"),
        ("jitter", "-"), ("face_found", "+"),
    )
    + tuple((f"amp_err_{c}", "-") for c in CHANNELS),
}

#: Differences at or below these count as ties (units of the metric).
TIE_TOL = {
    "psnr": 0.05, "ssim": 0.001, "akd": 0.01, "id_dist": 0.002, "rot_err": 0.05,
    "id_verify": 1e-9, "id_leak": 1e-9, "face_found": 1e-9,
    "yaw_err": 0.05, "pitch_err": 0.05, "roll_err": 0.05, "jitter": 0.005,
}
DEFAULT_TOL = 0.005  # correlations, amplitude errors


def add_derived(metrics: dict[str, float]) -> dict[str, float]:
    """Copy of one method's item metrics with ``amp_err_C = |log(amp_C)|`` added (NaN when amp_C is NaN or <= 0)."""
    out = dict(metrics)
    for c in CHANNELS:
        a = metrics.get(f"amp_{c}")
        out[f"amp_err_{c}"] = abs(math.log(a)) if isinstance(a, (int, float)) and math.isfinite(a) and a > 0 else float("nan")
    return out


def compare(value, base, direction: str, tol: float) -> str | None:
    """``"win"``, ``"tie"`` or ``"loss"`` of ``value`` against ``base``; None when either is missing."""
    if value is None or base is None:
        return None
    v, b = float(value), float(base)
    if not (math.isfinite(v) and math.isfinite(b)):
        return None
    d = (v - b) if direction == "+" else (b - v)
    if abs(d) <= tol:
        return "tie"
    return "win" if d > 0 else "loss"


def item_wins(protocol: str, metrics: dict[str, dict[str, float]], baseline: str = BASELINE) -> dict[str, dict[str, str | None]]:
    """Per method (not the baseline or a bound) and metric: win / tie / loss / None on one item.

    Args:
        protocol: ``self`` or ``cross``.
        metrics: the item's ``{method: {metric: value}}``.

    Returns:
        ``{}`` when the baseline did not run on the item.
    """
    if baseline not in metrics:
        return {}
    base = add_derived(metrics[baseline])
    out = {}
    for m, vals in metrics.items():
        if m == baseline or m in BOUNDS:
            continue
        v = add_derived(vals)
        out[m] = {k: compare(v.get(k), base.get(k), d, TIE_TOL.get(k, DEFAULT_TOL)) for k, d in WIN_METRICS[protocol]}
    return out


def win_rates(protocol: str, wins_per_item: list[dict[str, dict[str, str | None]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per method and metric over items: ``win``, ``tie``, ``loss`` counts, ``n`` and ``rate`` (= win / n; NaN when n = 0).

    The extra metric ``"all"`` pools every (item, metric) comparison.
    """
    methods = sorted({m for w in wins_per_item for m in w})
    out: dict = {}
    for m in methods:
        per: dict = {}
        pooled = {"win": 0, "tie": 0, "loss": 0}
        for k, _ in WIN_METRICS[protocol]:
            c = {"win": 0, "tie": 0, "loss": 0}
            for w in wins_per_item:
                r = w.get(m, {}).get(k)
                if r is not None:
                    c[r] += 1
                    pooled[r] += 1
            n = sum(c.values())
            per[k] = {**c, "n": n, "rate": c["win"] / n if n else float("nan")}
        n = sum(pooled.values())
        per["all"] = {**pooled, "n": n, "rate": pooled["win"] / n if n else float("nan")}
        out[m] = per
    return out


#: Report text describing this module's measurement.
WINRATE_NOTE = (
    "Per-item wins against naive2d: on each item, a method wins a metric when it is better than naive2d's value by "
    "more than the metric's tie tolerance (e.g. 0.05 dB PSNR, 0.01 px AKD, 0.005 for correlations; equal ID verify "
    "or face found are ties), loses when worse by more, ties otherwise; items where either value is missing are not "
    "counted. Cell: win rate (share of items won, ties count as not won) and wins-ties-losses. 'amp C' compares "
    "|log(amplitude ratio)| of channel C (closer to 1 wins); 'all' pools every comparison."
)
