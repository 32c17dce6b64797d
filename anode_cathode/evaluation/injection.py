"""Max SIC versus injected S/B for every method (the CATHODE paper's benchmark figure)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from anode_cathode.core.plotting import METHOD_COLORS, hep_pyplot, method_label, save_figure
from anode_cathode.core.registry import CLASSIFIER_STYLES
from anode_cathode.data.tags import injection_from_tag
from anode_cathode.evaluation.metrics import band

__all__ = ["plot_max_sic_vs_sb", "scan_table"]


def scan_table(per_seed: pd.DataFrame, percentiles: Sequence[float]) -> pd.DataFrame:
    """Median and band of max SIC over injection and training seeds, per S/B and method."""
    df = per_seed.copy()
    df["s_over_b"] = [injection_from_tag(t)["s_over_b"] for t in df["inj"]]
    if df["s_over_b"].isna().any():
        raise ValueError("injection scan metrics must come from S/B injections (tags sb<x>-s<n>)")
    rows = []
    for (sb, method, clf), grp in df.groupby(["s_over_b", "method", "classifier"]):
        med, lo, hi = band(grp["max_sic"].to_numpy()[:, None], percentiles)
        rows.append(
            {
                "s_over_b": sb,
                "method": method,
                "classifier": clf,
                "n_runs": len(grp),
                "n_injections": grp["inj"].nunique(),
                "max_sic": med[0],
                "max_sic_lo": lo[0],
                "max_sic_hi": hi[0],
            }
        )
    return pd.DataFrame(rows).sort_values(["method", "classifier", "s_over_b"])


def plot_max_sic_vs_sb(table: pd.DataFrame, title: str, path: str | os.PathLike) -> None:
    """Max SIC vs S/B (%) with bands, one line per method and classifier."""
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    for (method, clf), grp in table.groupby(["method", "classifier"], sort=False):
        x = 100 * grp["s_over_b"].to_numpy()
        color = METHOD_COLORS.get(method)
        ax.plot(
            x,
            grp["max_sic"],
            CLASSIFIER_STYLES.get(clf, "-"),
            marker="o",
            ms=4,
            color=color,
            label=method_label(method, clf),
        )
        ax.fill_between(x, grp["max_sic_lo"], grp["max_sic_hi"], color=color, alpha=0.15, lw=0)
    ax.axhline(1.0, color="gray", lw=1, ls=":")
    ax.set_xlabel("S/B in the signal region [%]")
    ax.set_ylabel("max SIC")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=14)
    ax.legend(fontsize=9, ncol=2)
    ax.set_xlim(0, 1.05 * 100 * float(np.max(table["s_over_b"])))
    save_figure(fig, path)
