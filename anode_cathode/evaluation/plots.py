"""HEP-style (mplhep) plots of SIC and ROC curves with bands over seeds."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from anode_cathode.core.plotting import METHOD_COLORS, hep_pyplot, method_label, save_figure
from anode_cathode.core.registry import CLASSIFIER_STYLES

__all__ = ["plot_roc", "plot_sic"]


def _curves(ax, bands: Mapping[tuple[str, str], Mapping[str, np.ndarray]], y: str) -> None:
    for (method, clf), b in bands.items():
        color = METHOD_COLORS.get(method, None)
        ax.plot(
            b["tpr"],
            b[y],
            CLASSIFIER_STYLES.get(clf, "-"),
            color=color,
            label=method_label(method, clf),
        )
        ax.fill_between(b["tpr"], b[f"{y}_lo"], b[f"{y}_hi"], color=color, alpha=0.2, lw=0)


def plot_sic(bands, title: str, path: str | os.PathLike, note: str = "") -> None:
    """SIC vs signal efficiency, median and band over seeds per (method, classifier)."""
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    _curves(ax, bands, "sic")
    ax.axhline(1.0, color="gray", lw=1, ls=":")
    ax.set_xlabel(r"Signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"SIC = $\epsilon_S/\sqrt{\epsilon_B}$")
    ax.set_xlim(0, 1)
    top = max((np.nanmax(b["sic_hi"]) for b in bands.values()), default=1.0)
    ax.set_ylim(0, 1.55 * top)  # room for the legend above the curves
    ax.set_title(title, fontsize=14)
    if note:
        ax.text(0.02, 0.97, note, transform=ax.transAxes, ha="left", va="top", fontsize=11)
    ax.legend(fontsize=9, loc="upper right", ncol=2)
    save_figure(fig, path)


def plot_roc(bands, title: str, path: str | os.PathLike) -> None:
    """Background rejection 1/FPR vs signal efficiency (log scale), bands over seeds."""
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    _curves(ax, bands, "rejection")
    grid = np.linspace(0.01, 1, 100)
    ax.plot(grid, 1 / grid, color="gray", lw=1, ls=":", label="Random")
    ax.set_yscale("log")
    ax.set_xlabel(r"Signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"Background rejection $1/\epsilon_B$")
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=14)
    ax.legend(fontsize=10)
    save_figure(fig, path)
