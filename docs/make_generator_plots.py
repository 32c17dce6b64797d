"""Make the figures of docs/generator.md: ``python docs/make_generator_plots.py``.

Writes ``docs/img/generator_*.png`` (small PNGs) from the built-in generator with its default
parameters and prints the calibration numbers quoted in the text. Takes about 10 s on one core.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from anode_cathode.bumphunt.functions import fit_dijet
from anode_cathode.data.features import compute_features
from anode_cathode.data.generate import generate_events

SR = (3.3, 3.7)
SLICES = ((2.5, 2.8), (3.3, 3.7), (4.5, 5.5))
LABELS = {
    "mj1": r"$m_{J1}$ (lighter jet) [TeV]",
    "delta_mj": r"$\Delta m_J$ [TeV]",
    "tau21j1": r"$\tau_{21}^{J1}$",
    "tau21j2": r"$\tau_{21}^{J2}$",
}
BINS = {
    "mj1": np.linspace(0, 0.6, 61),
    "delta_mj": np.linspace(0, 0.8, 65),
    "tau21j1": np.linspace(0, 1, 51),
    "tau21j2": np.linspace(0, 1, 51),
}


def in_range(f: pd.DataFrame, lo: float, hi: float) -> pd.DataFrame:
    return f[(f["mjj"] > lo) & (f["mjj"] < hi)]


def plot_mjj(bkg: pd.DataFrame, sig: pd.DataFrame, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    bins = np.linspace(1.5, 8.0, 131)
    ax.hist(bkg["mjj"], bins=bins, histtype="step", color="C0", label="QCD background (1M)")
    ax.hist(sig["mjj"], bins=bins, histtype="step", color="C3", label="W' signal (100k)")
    ax.axvspan(*SR, color="0.85", zorder=0, label="SR 3.3–3.7 TeV")
    ax.set(yscale="log", xlabel=r"$m_{JJ}$ [TeV]", ylabel="events / 50 GeV", ylim=(0.5, None))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "generator_mjj.png", dpi=90)
    plt.close(fig)


def plot_fit(bkg: pd.DataFrame, out: Path, lo: float = 3.0, hi: float = 7.0) -> None:
    """Background m_JJ in 100 GeV bins, 4-parameter dijet fit from ``lo`` and its pulls."""
    edges = np.round(np.arange(2.0, 8.0001, 0.1), 6)
    n = np.histogram(bkg["mjj"], edges)[0].astype(float)
    sel = (edges[:-1] >= lo - 1e-9) & (edges[1:] <= hi + 1e-9)
    fit = fit_dijet(edges, n, sel, 4)  # the bump hunt's fit, on the bins from lo to hi
    mu, pvalue = fit.expected[sel], fit.gof_pvalue
    mid = 0.5 * (edges[1:] + edges[:-1])
    fig, (ax, axp) = plt.subplots(2, 1, figsize=(5.5, 4.6), sharex=True,
                                  gridspec_kw={"height_ratios": (3, 1.3)})  # fmt: skip
    ax.errorbar(mid[n > 0], n[n > 0], np.sqrt(n[n > 0]), fmt=".", ms=3, color="k",
                label="QCD background (1M)")  # fmt: skip
    ax.plot(mid[sel], mu, color="C1", label=f"4-par. dijet fit {lo}–{hi} TeV, p = {pvalue:.2f}")
    ax.axvspan(*SR, color="0.85", zorder=0)
    ax.set(yscale="log", ylabel="events / 100 GeV", ylim=(0.5, None))
    ax.legend(frameon=False, fontsize=8)
    axp.bar(mid[sel], (n[sel] - mu) / np.sqrt(mu), width=0.1, color="C1")
    axp.axhline(0.0, color="0.5", lw=0.8)
    axp.set(xlabel=r"$m_{JJ}$ [TeV]", ylabel="pull", ylim=(-3.5, 3.5), xlim=(2.0, 8.0))
    fig.tight_layout()
    fig.savefig(out / "generator_mjj_fit.png", dpi=80)
    plt.close(fig)
    print(f"4-parameter dijet fit {lo}-{hi} TeV: gof p = {pvalue:.3f}")


def plot_features(bkg: pd.DataFrame, sig: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.2))
    for ax, col in zip(axes.flat, LABELS, strict=True):
        kw = {"bins": BINS[col], "density": True, "histtype": "step"}
        ax.hist(in_range(bkg, *SR)[col], color="C0", label="background, SR", **kw)
        ax.hist(in_range(sig, *SR)[col], color="C3", label="signal, SR", **kw)
        ax.set_xlabel(LABELS[col])
    axes[0, 0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "generator_features.png", dpi=80)
    plt.close(fig)


def plot_correlations(bkg: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.2))
    for ax, col in zip(axes.flat[:2], ("mj1", "delta_mj"), strict=True):
        for i, (lo, hi) in enumerate(SLICES):
            ax.hist(in_range(bkg, lo, hi)[col], bins=BINS[col], density=True, histtype="step",
                    color=f"C{i}", label=f"{lo}–{hi} TeV")  # fmt: skip
        ax.set(xlabel=LABELS[col], xlim=(0, 0.4))
    axes[0, 0].legend(frameon=False, fontsize=8, title=r"$m_{JJ}$", title_fontsize=8)
    ax = axes[1, 0]
    edges = np.arange(2.4, 6.01, 0.2)
    idx = np.digitize(bkg["mjj"], edges) - 1
    ref = in_range(bkg, *SR)
    for col in LABELS:
        med = [np.median(bkg[col][idx == k]) for k in range(len(edges) - 1)]
        ax.plot(0.5 * (edges[1:] + edges[:-1]), np.array(med) / np.median(ref[col]), marker=".",
                label=LABELS[col].split(" [")[0])  # fmt: skip
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.set(xlabel=r"$m_{JJ}$ [TeV]", ylabel="median / median in SR")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax = axes[1, 1]
    edges = np.linspace(0.0, 0.5, 26)
    mid = 0.5 * (edges[1:] + edges[:-1])
    for i, (lo, hi) in enumerate(SLICES):
        f = in_range(bkg, lo, hi)
        heavy = f["mj1"] + f["delta_mj"]
        idx = np.digitize(heavy, edges) - 1
        prof = [f["tau21j2"][idx == k].mean() if (idx == k).sum() > 30 else np.nan
                for k in range(len(mid))]  # fmt: skip
        ax.plot(mid, prof, color=f"C{i}", marker=".")
    ax.set(xlabel="heavier-jet mass [TeV]", ylabel=r"mean $\tau_{21}^{J2}$", ylim=(0.2, 0.8))
    fig.tight_layout()
    fig.savefig(out / "generator_correlations.png", dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "img")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    feats = compute_features(generate_events(1_000_000, 100_000, seed=args.seed))
    bkg, sig = feats[feats["label"] == 0], feats[feats["label"] == 1]
    plot_mjj(bkg, sig, args.out)
    plot_fit(bkg, args.out)
    plot_features(bkg, sig, args.out)
    plot_correlations(bkg, args.out)
    print(f"background in SR: {len(in_range(bkg, *SR))} of {len(bkg)}")
    print(f"signal in SR:     {len(in_range(sig, *SR))} of {len(sig)}")
    print(
        "background mjj quantiles 1/50/99 %:", np.quantile(bkg["mjj"], [0.01, 0.5, 0.99]).round(2)
    )
    for lo, hi in SLICES:
        f = in_range(bkg, lo, hi)
        medians = ", ".join(f"{c} {np.median(f[c]):.3f}" for c in LABELS)
        print(f"background medians, mjj {lo}-{hi} TeV: {medians}")
    s = in_range(sig, *SR)
    print("signal medians in SR:", ", ".join(f"{c} {np.median(s[c]):.3f}" for c in LABELS))
    for png in sorted(args.out.glob("generator_*.png")):
        print(f"{png}: {png.stat().st_size / 1024:.0f} kB")


if __name__ == "__main__":
    main()
