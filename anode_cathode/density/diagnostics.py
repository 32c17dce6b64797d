"""Flow diagnostic plots: sideband data vs flow samples at the same masses, training curves.

The closure number itself (a classifier two-sample test) is
:func:`anode_cathode.evaluation.closure.closure_auc`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from anode_cathode.core.plotting import hep_pyplot, save_figure

__all__ = ["plot_feature_closure", "plot_losses"]


def plot_feature_closure(
    x_data: np.ndarray,
    x_samples: np.ndarray,
    names: Sequence[str],
    title: str,
    path: str | os.PathLike,
) -> None:
    """Histogram of every feature, data vs samples, with the ratio samples/data below."""
    plt = hep_pyplot()
    d = len(names)
    fig, axes = plt.subplots(
        2, d, figsize=(4.2 * d, 5.5), gridspec_kw={"height_ratios": [3, 1]}, sharex="col"
    )
    axes = np.asarray(axes).reshape(2, d)
    for i, name in enumerate(names):
        lo, hi = np.percentile(np.r_[x_data[:, i], x_samples[:, i]], [0.1, 99.9])
        bins = np.linspace(lo, hi, 41)
        h_d, _ = np.histogram(x_data[:, i], bins)
        h_s, _ = np.histogram(x_samples[:, i], bins)
        scale = len(x_data) / max(len(x_samples), 1)
        centers = 0.5 * (bins[1:] + bins[:-1])
        ax, rax = axes[0, i], axes[1, i]
        ax.stairs(h_s * scale, bins, color="tab:blue", label="flow samples")
        ax.errorbar(centers, h_d, np.sqrt(h_d), fmt="k.", ms=3, label="SB data")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=12)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = h_s * scale / h_d
            err = np.sqrt(h_d) / h_d * ratio
        rax.errorbar(centers, ratio, err, fmt="b.", ms=3)
        rax.axhline(1, color="gray", lw=1)
        rax.set_ylim(0.7, 1.3)
        rax.set_xlabel(name, fontsize=11)
        ax.tick_params(labelsize=9)
        rax.tick_params(labelsize=9)
    axes[0, 0].legend(fontsize=9)
    axes[1, 0].set_ylabel("samples / data", fontsize=10)
    fig.suptitle(title, fontsize=13)
    save_figure(fig, path)


def plot_losses(
    train: Sequence[float],
    val: Sequence[float],
    best: Sequence[int],
    title: str,
    path: str | os.PathLike,
) -> None:
    """Training and validation loss per epoch; the epochs of the ensemble are marked."""
    plt = hep_pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, label="training")
    ax.plot(epochs, val, label="validation")
    best = np.asarray(best, dtype=int)
    ax.plot(
        epochs[best],
        np.asarray(val)[best],
        "o",
        mfc="none",
        color="tab:red",
        label=f"{len(best)} best epochs",
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative log-likelihood")
    ax.set_title(title, fontsize=13)
    ax.legend(fontsize=10)
    save_figure(fig, path)
