"""Per-window metrics over seeds and the run's summary tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.evaluation.metrics import band, sic_at_fpr, sic_curve, sic_on_grid

__all__ = [
    "TPR_GRID",
    "bands_from_tables",
    "bands_to_tables",
    "curve_bands",
    "seed_metrics",
    "summarize",
    "summary_markdown",
]

#: Signal efficiencies on which curves of different seeds are combined.
TPR_GRID = np.linspace(0.005, 1.0, 200)


def _fpr_name(fpr: float) -> str:
    return f"sic_at_fpr_{fpr:g}"


def seed_metrics(
    tests: Mapping[tuple[str, str, int], pd.DataFrame], evaluation: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[tuple[str, str, int], Any]]:
    """Max SIC and SIC at fixed FPR for every (method, classifier, seed) test-score table."""
    rows, curves = [], {}
    for (method, clf, seed), test in sorted(tests.items()):
        curve = sic_curve(
            test["label"].to_numpy(), test["score"].to_numpy(), evaluation["max_rel_error"]
        )
        curves[(method, clf, seed)] = curve
        row = {
            "method": method,
            "classifier": clf,
            "seed": seed,
            "max_sic": curve.max_sic,
            "n_test_signal": curve.n_signal,
            "n_test_background": curve.n_background,
        }
        for fpr in evaluation["fpr_points"]:
            row[_fpr_name(fpr)] = sic_at_fpr(curve, fpr)
        rows.append(row)
    return pd.DataFrame(rows), curves


def curve_bands(
    curves: Mapping[tuple[str, str, int], Any], percentiles: Sequence[float]
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Median and band over seeds of SIC(TPR) and background rejection 1/FPR(TPR)."""
    keys = sorted({(m, c) for m, c, _ in curves})
    out = {}
    for key in keys:
        seeds = [s for (m, c, s) in curves if (m, c) == key]
        sic = [sic_on_grid(curves[(*key, s)], TPR_GRID) for s in seeds]
        rej = []
        for s in seeds:
            cv = curves[(*key, s)]
            tpr, idx = np.unique(cv.tpr, return_index=True)
            fpr = np.interp(TPR_GRID, tpr, cv.fpr[idx], left=np.nan, right=np.nan)
            rej.append(1.0 / fpr)
        sic_med, sic_lo, sic_hi = band(sic, percentiles)
        rej_med, rej_lo, rej_hi = band(rej, percentiles)
        out[key] = {
            "tpr": TPR_GRID,
            "sic": sic_med,
            "sic_lo": sic_lo,
            "sic_hi": sic_hi,
            "rejection": rej_med,
            "rejection_lo": rej_lo,
            "rejection_hi": rej_hi,
        }
    return out


def summarize(per_seed: pd.DataFrame, percentiles: Sequence[float]) -> pd.DataFrame:
    """Median and band over seeds of every metric, one row per (window, method, classifier)."""
    metrics = [c for c in per_seed.columns if c == "max_sic" or c.startswith("sic_at_fpr_")]
    group_keys = [k for k in ("inj", "window", "method", "classifier") if k in per_seed]
    rows = []
    for key, grp in per_seed.groupby(group_keys, sort=False):
        row = dict(zip(group_keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["n_seeds"] = len(grp)
        for m in metrics:
            med, lo, hi = band(grp[m].to_numpy()[:, None], percentiles)
            row[m] = float(med[0])
            row[f"{m}_lo"] = float(lo[0])
            row[f"{m}_hi"] = float(hi[0])
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(med: float, lo: float, hi: float) -> str:
    if not np.isfinite(med):
        return "n/a"
    return f"{med:.2f} [{lo:.2f}, {hi:.2f}]"


def summary_markdown(
    summary: pd.DataFrame,
    percentiles: Sequence[float],
    title: str,
    over: str = "training seeds",
) -> str:
    """Markdown table: median [band] over ``over`` of max SIC and SIC at fixed FPR."""
    fpr_cols = [
        c for c in summary.columns if c.startswith("sic_at_fpr_") and not c.endswith(("_lo", "_hi"))
    ]
    header = ["window", "method", "classifier", "seeds", "max SIC"] + [
        f"SIC @ FPR {c.removeprefix('sic_at_fpr_')}" for c in fpr_cols
    ]
    lines = [
        f"# {title}",
        "",
        f"Median over {over} with the {percentiles[0]:g}-{percentiles[1]:g} % band "
        "in brackets; n/a where fewer than the minimum number of background test events pass.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for _, r in summary.iterrows():
        cells = [str(r.get("window", "")), r["method"], r["classifier"], str(int(r["n_seeds"]))]
        cells.append(_fmt(r["max_sic"], r["max_sic_lo"], r["max_sic_hi"]))
        cells += [_fmt(r[c], r[f"{c}_lo"], r[f"{c}_hi"]) for c in fpr_cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bands_to_tables(bands: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """Curve bands keyed by (method, classifier) as tables named ``<method>__<classifier>``."""
    return {f"{m}__{c}": pd.DataFrame(b) for (m, c), b in bands.items()}


def bands_from_tables(
    tables: Mapping[str, pd.DataFrame],
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Inverse of :func:`bands_to_tables`."""
    return {
        tuple(k.split("__")): {c: v.to_numpy() for c, v in t.items()} for k, t in tables.items()
    }
