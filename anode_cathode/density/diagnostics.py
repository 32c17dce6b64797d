"""Flow closure diagnostics: sideband data vs flow samples at the same masses.

The classifier two-sample test (AUC of a classifier separating data from samples on held-out
events) is the most sensitive single number for a generative model: 0.5 means the classifier
cannot tell them apart, 1.0 means they are fully separable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["closure_auc", "plot_feature_closure", "plot_losses"]


def closure_auc(
    x_data: np.ndarray, x_samples: np.ndarray, seed: int = 0, n_threads: int = 1
) -> float:
    """AUC of a boosted-tree classifier (data vs samples) on a held-out half of each."""
    from sklearn.metrics import roc_auc_score

    from anode_cathode.classifiers import BDTClassifier

    n = min(len(x_data), len(x_samples))
    if n < 100:
        raise ValueError(f"closure test needs at least 100 events per class, got {n}")
    rng = np.random.default_rng(seed)
    a = x_data[rng.permutation(len(x_data))[:n]]
    b = x_samples[rng.permutation(len(x_samples))[:n]]
    half = n // 2
    X_train = np.concatenate([a[:half], b[:half]])
    y_train = np.r_[np.ones(half), np.zeros(half)]
    X_test = np.concatenate([a[half:], b[half:]])
    y_test = np.r_[np.ones(n - half), np.zeros(n - half)]
    clf = BDTClassifier(n_models=1, random_state=seed, n_threads=n_threads)
    clf.fit(X_train, y_train)
    return float(roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]))


def _style():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    plt.style.use(hep.style.ROOT)
    return plt


def plot_feature_closure(
    x_data: np.ndarray,
    x_samples: np.ndarray,
    names: Sequence[str],
    title: str,
    path: str | os.PathLike,
) -> None:
    """Histogram of every feature, data vs samples, with the ratio samples/data below."""
    from anode_cathode.evaluation.plots import save_figure

    plt = _style()
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
    from anode_cathode.evaluation.plots import save_figure

    plt = _style()
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
