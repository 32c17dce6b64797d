"""Closure of the sideband flow: can a classifier tell sideband data from flow samples?

The classifier two-sample test (AUC of a classifier separating data from samples on held-out
events) is the most sensitive single number for a generative model: 0.5 means the classifier
cannot tell them apart, 1.0 means they are fully separable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["closure_auc", "closure_markdown"]


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


def closure_markdown(paths: Sequence[str | os.PathLike], threshold: float) -> str:
    """Markdown table of the sideband-flow closure AUC per window, from ``closure.json`` files.

    Flows with an AUC above ``threshold`` are flagged "(poor)".
    """
    lines = [
        "",
        "## Sideband flow closure",
        "",
        "Classifier two-sample test, SB data vs flow samples at the same mjj: AUC 0.5 means",
        f"indistinguishable, 1.0 fully separable; above {threshold:g} the flow is flagged.",
        "",
        "| window | closure AUC | events | best val. loss | best epochs |",
        "|---|---|---|---|---|",
    ]
    for path in paths:
        c = json.loads(Path(path).read_text())
        flag = " (poor)" if c["closure_auc"] > threshold else ""
        lines.append(
            f"| {c['window']} | {c['closure_auc']:.3f}{flag} | {c['n_events']} | "
            f"{c['best_val_loss']:.4f} | {', '.join(map(str, c['best_epochs']))} |"
        )
    return "\n".join(lines) + "\n"
