"""Does the score cut sculpt the mjj spectrum? Efficiency of each cut versus mjj.

For a score independent of mjj the efficiency is flat at the nominal value; a cut that prefers
events near the signal region shows up as a bump in efficiency, before any fit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from anode_cathode.bumphunt.scan import CutResult

__all__ = ["plot_sculpting", "relative_efficiency"]


def relative_efficiency(cut: CutResult, total: CutResult) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin efficiency of ``cut`` relative to its nominal value, with binomial errors."""
    n, k = np.asarray(total.counts), np.asarray(cut.counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = k / n
        err = np.sqrt(eff * (1 - eff) / n)
    return eff / cut.efficiency, err / cut.efficiency


def plot_sculpting(results: Sequence[CutResult], path: str | os.PathLike, title: str) -> None:
    """One panel per cut: relative efficiency vs mjj for every window (flat = no sculpting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from anode_cathode.evaluation.plots import save_figure

    totals = {r.window.name: r for r in results if r.efficiency >= 1.0}
    cuts = sorted({r.efficiency for r in results if r.efficiency < 1.0}, reverse=True)
    if not totals or not cuts:
        return
    plt.style.use(hep.style.ROOT)
    fig, axes = plt.subplots(1, len(cuts), figsize=(5 * len(cuts), 4.5), squeeze=False)
    for ax, eff in zip(axes[0], cuts, strict=True):
        for r in sorted((r for r in results if r.efficiency == eff), key=lambda r: r.window.center):
            if r.window.name not in totals:
                continue
            rel, err = relative_efficiency(r, totals[r.window.name])
            edges = np.asarray(r.edges)
            centres = 0.5 * (edges[1:] + edges[:-1])
            ax.errorbar(centres, rel, err, fmt=".-", ms=3, lw=0.8, label=r.window.name)
        ax.axhline(1.0, color="gray", lw=1)
        ax.set_title(f"keep {100 * eff:g}%", fontsize=12)
        ax.set_xlabel(r"$m_{JJ}$ [TeV]", fontsize=12)
        ax.set_ylim(0, 3)
        ax.tick_params(labelsize=10)
    axes[0, 0].set_ylabel("efficiency / nominal", fontsize=12)
    axes[0, -1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{title}: score-cut efficiency vs mjj (flat = no sculpting)", fontsize=13)
    save_figure(fig, path)
