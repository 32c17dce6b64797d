"""Closure of the sideband flow: can a classifier tell sideband data from flow samples?

The classifier two-sample test (AUC of a classifier separating data from samples on held-out
events) is the most sensitive single number for a generative model: 0.5 means the classifier
cannot tell them apart, 1.0 means they are fully separable. A global AUC can stay at 0.5 while a
few per cent of events sit in a mismodelled corner, e.g. next to the hard edge of delta_mj at 0,
which CATHODE's classifier then reads as a data excess; :func:`feature_closure` compares every
feature's histogram, edge bins and samples beyond the data range included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["closure_auc", "closure_markdown", "feature_closure"]


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


def _closure_edges(x: np.ndarray, n_bins: int, edge_fraction: float) -> np.ndarray:
    """Bin edges: under/overflow beyond the data, an edge bin of ``edge_fraction`` of the data
    at each end, equiprobable bins in between (merged where the data have point masses)."""
    inner = np.quantile(x, np.linspace(edge_fraction, 1.0 - edge_fraction, n_bins - 1))
    edges = np.unique(np.r_[x.min(), inner, x.max()])
    edges[-1] = np.nextafter(edges[-1], np.inf)  # the largest data value in the last bin
    return np.r_[-np.inf, edges, np.inf]


def feature_closure(
    x_data: np.ndarray,
    x_samples: np.ndarray,
    names: Sequence[str],
    n_bins: int = 20,
    edge_fraction: float = 0.01,
    min_pull: float = 3.0,
) -> dict[str, dict[str, float]]:
    """Per feature, binned samples/data ratios with a two-sample chi-square.

    Bins: ``n_bins`` between the smallest and largest data value, the outermost holding
    ``edge_fraction`` of the data each (the edges, where a flow smears a hard boundary), and
    an underflow and an overflow bin that count samples beyond the data's range. Samples are
    scaled to the number of data events. The chi-square is the two-sample test of unweighted
    histograms, sum (sqrt(S/D) d_i - sqrt(D/S) s_i)^2 / (d_i + s_i), with the non-empty bins
    less one as degrees of freedom.

    Returns
    -------
    dict
        Per feature name: ``chi2``, ``ndf``, ``p_value``; ``low_edge_ratio`` and
        ``high_edge_ratio`` (samples/data in the edge bins); ``below_data`` and
        ``above_data`` (fractions of samples beyond the data's range); ``max_deviation``, the
        largest |ratio - 1| among bins whose deviation has a pull above ``min_pull`` (0 when
        none has).
    """
    from scipy.stats import chi2 as chi2_dist

    x_data = np.asarray(x_data, dtype=np.float64)
    x_samples = np.asarray(x_samples, dtype=np.float64)
    n_d, n_s = len(x_data), len(x_samples)
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        edges = _closure_edges(x_data[:, j], n_bins, edge_fraction)
        d = np.histogram(x_data[:, j], edges)[0].astype(np.float64)
        s = np.histogram(x_samples[:, j], edges)[0].astype(np.float64)
        used = (d + s) > 0
        a, b = np.sqrt(n_s / n_d), np.sqrt(n_d / n_s)
        terms = (a * d[used] - b * s[used]) ** 2 / (d[used] + s[used])
        chi2, ndf = float(terms.sum()), int(used.sum()) - 1
        regular = slice(1, -1)
        scaled = s[regular] * n_d / n_s
        ratio = scaled / np.maximum(d[regular], 1.0)
        # error of scaled - d with both Poisson: sqrt(d + s * (D/S)^2)
        err = np.sqrt(d[regular] + s[regular] * (n_d / n_s) ** 2)
        pull = np.abs(scaled - d[regular]) / np.maximum(err, 1.0)
        significant = (pull > min_pull) & (d[regular] > 0)
        out[name] = {
            "chi2": chi2,
            "ndf": ndf,
            "p_value": float(chi2_dist.sf(chi2, ndf)) if ndf > 0 else 1.0,
            "low_edge_ratio": float(ratio[0]),
            "high_edge_ratio": float(ratio[-1]),
            "below_data": float(s[0] / n_s),
            "above_data": float(s[-1] / n_s),
            "max_deviation": float(np.abs(ratio[significant] - 1.0).max(initial=0.0)),
        }
    return out


def closure_markdown(
    paths: Sequence[str | os.PathLike], threshold: float, min_pvalue: float = 1e-3
) -> str:
    """Markdown tables of the sideband-flow closure per window, from ``closure.json`` files.

    Flows with an AUC above ``threshold`` are flagged "(poor)", and so is every feature whose
    two-sample chi-square has a p-value below ``min_pvalue`` (:func:`feature_closure`).
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
    closures = [json.loads(Path(path).read_text()) for path in paths]
    for c in closures:
        flag = " (poor)" if c["closure_auc"] > threshold else ""
        lines.append(
            f"| {c['window']} | {c['closure_auc']:.3f}{flag} | {c['n_events']} | "
            f"{c['best_val_loss']:.4f} | {', '.join(map(str, c['best_epochs']))} |"
        )
    with_features = [c for c in closures if "features" in c]
    if not with_features:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Per feature, samples/data in bins of the SB data (the outermost bins hold 1 % of the",
        "data each; 'beyond' counts samples outside the data's range, below / above), with the",
        f"two-sample chi-square; p below {min_pvalue:g} is flagged. 'largest dev.' is the",
        "largest deviation of a bin from 1 among those off by more than 3 sigma.",
        "",
        "| window | feature | chi2 / ndf | p | low edge | high edge | beyond (%) | largest dev. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in with_features:
        for name, f in c["features"].items():
            flag = " (poor)" if f["p_value"] < min_pvalue else ""
            lines.append(
                f"| {c['window']} | {name} | {f['chi2']:.1f} / {f['ndf']} | "
                f"{f['p_value']:.2g}{flag} | {f['low_edge_ratio']:.3f} | "
                f"{f['high_edge_ratio']:.3f} | "
                f"{100 * f['below_data']:.3f} / {100 * f['above_data']:.3f} | "
                f"{100 * f['max_deviation']:.1f} % |"
            )
    return "\n".join(lines) + "\n"
