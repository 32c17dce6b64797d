"""HEP-style (mplhep) plots of the bump hunt: spectra with fits, local Z scans, p-value null
checks and the sculpting check (efficiency of each cut versus mjj).

matplotlib is imported by the plotting functions only, so importing this module is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import kstest, norm

from anode_cathode.bumphunt.significance import GlobalPValue
from anode_cathode.bumphunt.window import CutResult
from anode_cathode.core.plotting import METHOD_LABELS, hep_pyplot, save_figure

__all__ = [
    "plot_local_z",
    "plot_local_z_null",
    "plot_max_z_cdf",
    "plot_pvalue_uniformity",
    "plot_sculpting",
    "plot_spectrum",
    "relative_efficiency",
]

_CUT_COLORS = ("black", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def _eff_label(eff: float) -> str:
    return "no cut" if eff >= 1.0 else f"keep {100 * eff:g}%"


def plot_spectrum(results: Sequence[CutResult], path: str | os.PathLike, title: str = "") -> None:
    """(a) mjj after each cut of one window: data, sideband fit, shaded SR, pulls panel.

    Pulls are (data - fit) / √fit per bin; the fit excludes the SR bins.
    """
    if not results:
        raise ValueError("plot_spectrum needs at least one CutResult")
    plt = hep_pyplot()
    fig, (ax, axp) = plt.subplots(
        2, 1, figsize=(8, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
    )
    window = results[0].window
    for i, res in enumerate(results):
        color = _CUT_COLORS[i % len(_CUT_COLORS)]
        edges = np.asarray(res.edges)
        centres = 0.5 * (edges[1:] + edges[:-1])
        counts, expected = np.asarray(res.counts), np.asarray(res.expected)
        width = np.diff(edges)
        fine = np.linspace(edges[0], edges[-1], 400)
        ax.plot(fine, res.density(fine) * width.mean(), color=color, lw=1.5)
        function = "UA2" if res.family == "ua2" else f"{res.n_params} par."
        label = rf"{_eff_label(res.efficiency)}: $Z$ = {res.z:.1f} ({function})"
        ax.errorbar(centres, counts, yerr=np.sqrt(counts), fmt="o", ms=3, color=color, label=label)
        pull = np.divide(
            counts - expected, np.sqrt(expected), where=expected > 0, out=np.zeros_like(expected)
        )
        offset = (i - 0.5 * (len(results) - 1)) * 0.15 * width.mean()
        axp.plot(centres + offset, pull, "o", ms=3, color=color)
    for a in (ax, axp):
        a.axvspan(window.sr_lo, window.sr_hi, color="gray", alpha=0.2, lw=0)
    ax.set_yscale("log")
    positive = [c for res in results for c in res.counts if c > 0]
    if positive:
        ax.set_ylim(0.3 * min(positive), 30.0 * max(positive))
    ax.set_ylabel("Events / bin")
    ax.legend(
        fontsize=10, title=f"SR {window.sr_lo:g}–{window.sr_hi:g} TeV (shaded)", title_fontsize=10
    )
    ax.set_title(title, fontsize=14)
    for y in (-2.0, 0.0, 2.0):
        axp.axhline(y, color="gray", lw=1, ls=":" if y else "-")
    axp.set_ylim(-4.5, 4.5)
    axp.set_ylabel(r"(data$-$fit)/$\sqrt{\mathrm{fit}}$", fontsize=12)
    axp.set_xlabel(r"$m_{JJ}$ [TeV]")
    save_figure(fig, path)


def plot_local_z(
    results: Sequence[CutResult],
    path: str | os.PathLike,
    method: str = "",
    global_p: Mapping[float, GlobalPValue] | None = None,
) -> None:
    """(b) Local Z vs window centre, one line per cut efficiency, with 3σ and 5σ lines.

    ``global_p`` (optional, per efficiency) is quoted in the legend.
    """
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    effs = sorted({r.efficiency for r in results}, reverse=True)
    for i, eff in enumerate(effs):
        rows = sorted((r for r in results if r.efficiency == eff), key=lambda r: r.window.center)
        label = _eff_label(eff)
        if global_p and eff in global_p:
            label += f" (global {global_p[eff]})"
        ax.plot(
            [r.window.center for r in rows],
            [r.z for r in rows],
            "o-",
            color=_CUT_COLORS[i % len(_CUT_COLORS)],
            label=label,
        )
    for level in (3.0, 5.0):
        ax.axhline(level, color="gray", lw=1, ls="--")
        ax.text(ax.get_xlim()[0], level, rf" {level:g}$\sigma$", va="bottom", fontsize=11)
    ax.set_ylim(bottom=0, top=max(6.0, max((r.z for r in results), default=0.0) * 1.15))
    ax.set_xlabel(r"Signal-region centre $m_{JJ}$ [TeV]")
    ax.set_ylabel(r"Local significance $Z$")
    ax.set_title(METHOD_LABELS.get(method, method), fontsize=14)
    ax.legend(fontsize=10)
    save_figure(fig, path)


def plot_pvalue_uniformity(
    pvalues: Sequence[float] | np.ndarray, path: str | os.PathLike, label: str = "", bins: int = 20
) -> float:
    """(c) Null check: histogram of local p-values with the uniform expectation.

    Use the signed p-values (``CutResult.p_signed``), which are uniform under the
    background-only hypothesis; the capped ones pile up at 0.5. Returns the
    Kolmogorov–Smirnov p-value against U(0, 1), which is also shown in the legend.
    """
    import mplhep as hep

    p = np.asarray(pvalues, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        raise ValueError("no finite p-values to plot")
    ks = float(kstest(p, "uniform").pvalue)
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    counts, edges = np.histogram(p, bins=bins, range=(0.0, 1.0))
    hep.histplot(
        counts,
        edges,
        yerr=np.sqrt(counts),
        histtype="errorbar",
        ax=ax,
        label=f"{label} ({p.size} tests), KS p = {ks:.3f}".strip(),
    )
    ax.axhline(p.size / bins, color="tab:red", lw=1.5, label="Uniform expectation")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.35 * max(counts.max() + np.sqrt(counts.max()), p.size / bins))
    ax.set_xlabel("Local p-value")
    ax.set_ylabel(f"Tests / {1 / bins:g}")
    ax.legend(fontsize=11)
    save_figure(fig, path)
    return ks


def relative_efficiency(cut: CutResult, total: CutResult) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin efficiency of ``cut`` relative to its nominal value, with binomial errors."""
    n, k = np.asarray(total.counts), np.asarray(cut.counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = k / n
        err = np.sqrt(eff * (1 - eff) / n)
    return eff / cut.efficiency, err / cut.efficiency


def plot_sculpting(results: Sequence[CutResult], path: str | os.PathLike, title: str) -> None:
    """(d) Does the cut sculpt mjj? One panel per cut: efficiency relative to nominal vs mjj.

    For a score independent of mjj the efficiency is flat at the nominal value; a cut that
    prefers events near the signal region shows up as a bump, before any fit. Needs the
    uncut results (efficiency 1) of the windows; without them or without a cut, nothing is
    drawn.
    """
    totals = {r.window.name: r for r in results if r.efficiency >= 1.0}
    cuts = sorted({r.efficiency for r in results if r.efficiency < 1.0}, reverse=True)
    if not totals or not cuts:
        return
    plt = hep_pyplot()
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


def plot_max_z_cdf(
    null_max: Mapping[float, np.ndarray],
    toy_max: Mapping[float, np.ndarray],
    n_windows: int,
    observed: Mapping[float, float],
    path: str | os.PathLike,
    title: str = "",
) -> None:
    """Calibration: tail probability of the maximum local Z over windows, per cut.

    Solid: the null data sets (the whole chain retrained on each); dashed: fixed-selection
    toys of the observed data set; dotted: the trials formula 1 - (1 - p(Z))^n. A vertical
    line marks the observed maximum of each cut.
    """
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    z = np.linspace(0.0, 5.0, 201)
    for i, eff in enumerate(sorted(null_max, reverse=True)):
        color = f"C{i}"
        values = np.sort(np.asarray(null_max[eff], dtype=np.float64))
        values = values[np.isfinite(values)]
        tail = 1.0 - np.searchsorted(values, z, side="left") / max(values.size, 1)
        ax.step(z, tail, where="post", color=color, label=f"keep {eff:g}: {values.size} null sets")
        toys = np.asarray(toy_max.get(eff, []), dtype=np.float64)
        toys = np.sort(toys[np.isfinite(toys)])
        if toys.size:
            ax.step(
                z,
                1.0 - np.searchsorted(toys, z, side="left") / toys.size,
                where="post",
                color=color,
                ls="--",
                lw=1,
            )
        if eff in observed:
            ax.axvline(observed[eff], color=color, lw=1, alpha=0.6)
    ax.plot(
        z,
        -np.expm1(n_windows * np.log1p(-norm.sf(z))),
        color="k",
        ls=":",
        label=f"trials formula ({n_windows} windows)",
    )
    ax.plot([], [], color="gray", ls="--", lw=1, label="toys, fixed selection (observed)")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1.5)
    ax.set_xlabel("Maximum local Z over windows (with spurious-signal term)")
    ax.set_ylabel("P(max Z ≥ z)")
    ax.set_title(title, fontsize=14)
    ax.legend(fontsize=10)
    save_figure(fig, path)


def plot_local_z_null(rows: Any, path: str | os.PathLike) -> None:
    """Calibration: signed local Z of every null data set and window, per cut, against N(0, 1)."""
    import mplhep as hep

    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    edges = np.linspace(-4.0, 4.0, 33)
    for i, (eff, g) in enumerate(rows.groupby("efficiency")):
        z = g["z_cal_signed"].to_numpy()
        counts = np.histogram(z, edges)[0] / max(z.size, 1) / np.diff(edges)
        hep.histplot(
            counts, edges, ax=ax, color=f"C{i}", label=f"keep {eff:g}: std {np.std(z, ddof=1):.2f}"
        )
    x = np.linspace(-4, 4, 200)
    ax.plot(x, norm.pdf(x), color="k", ls=":", label="N(0, 1)")
    ax.set_xlabel("Signed local Z, null data sets (with spurious-signal term)")
    ax.set_ylabel("Density")
    ax.legend(fontsize=10)
    save_figure(fig, path)
