"""ROC and significance-improvement (SIC = TPR/sqrt(FPR)) curves with statistical cuts.

SIC curves are cut where the relative statistical error of the background efficiency,
1/sqrt(N_B pass), exceeds ``max_rel_error`` (0.2: fewer than 25 background test events pass),
following docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_curve

__all__ = ["SicCurve", "band", "sic_at_fpr", "sic_curve", "sic_on_grid"]


@dataclass(frozen=True)
class SicCurve:
    """ROC points with SIC, restricted to FPR > 0 and enough background statistics."""

    tpr: np.ndarray
    fpr: np.ndarray
    sic: np.ndarray
    n_bkg_pass: np.ndarray
    n_signal: int
    n_background: int

    @property
    def max_sic(self) -> float:
        return float(np.max(self.sic)) if len(self.sic) else float("nan")


def sic_curve(labels: np.ndarray, scores: np.ndarray, max_rel_error: float = 0.2) -> SicCurve:
    """SIC curve of ``scores`` (higher = more signal-like) for binary ``labels``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.r_[np.ones(100), np.zeros(10_000)]
    >>> c = sic_curve(y, y)  # a perfect classifier: TPR 1 at the lowest FPR with >= 25 bkg
    >>> float(round(c.max_sic, 3))  # TPR 1 at FPR 25/10000: 1/sqrt(0.0025)
    20.0
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN/inf; the classifier diverged")
    n_sig = int((labels == 1).sum())
    n_bkg = int((labels == 0).sum())
    if n_sig == 0 or n_bkg == 0:
        raise ValueError(f"need signal and background test events, got {n_sig} and {n_bkg}")
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    min_pass = 1.0 / max_rel_error**2
    f_min = np.ceil(min_pass - 1e-9) / n_bkg
    if f_min <= 1.0:
        # The cut passing exactly the minimum background lies inside a ROC segment when
        # scores tie (a perfect classifier jumps from FPR 0 to 1): interpolate linearly,
        # i.e. a random cut inside the tie block.
        i = int(np.searchsorted(fpr, f_min, side="left"))
        frac = (f_min - fpr[i - 1]) / (fpr[i] - fpr[i - 1]) if fpr[i] > fpr[i - 1] else 1.0
        t_min = tpr[i - 1] + frac * (tpr[i] - tpr[i - 1])
        fpr = np.r_[fpr[:i], f_min, fpr[i:]]
        tpr = np.r_[tpr[:i], t_min, tpr[i:]]
    n_pass = fpr * n_bkg
    ok = (fpr > 0) & (n_pass >= min_pass - 1e-9)
    tpr, fpr, n_pass = tpr[ok], fpr[ok], n_pass[ok]
    return SicCurve(tpr, fpr, tpr / np.sqrt(fpr), n_pass, n_sig, n_bkg)


def sic_at_fpr(curve: SicCurve, fpr: float) -> float:
    """SIC at a fixed background efficiency (NaN where statistics do not reach it)."""
    if len(curve.fpr) == 0 or fpr < curve.fpr[0] or fpr > curve.fpr[-1]:
        return float("nan")
    tpr = float(np.interp(fpr, curve.fpr, curve.tpr))
    return tpr / np.sqrt(fpr)


def sic_on_grid(curve: SicCurve, tpr_grid: np.ndarray) -> np.ndarray:
    """SIC as a function of signal efficiency on ``tpr_grid`` (NaN outside the valid range)."""
    if len(curve.tpr) == 0:
        return np.full(len(tpr_grid), np.nan)
    # for equal TPR keep the smallest FPR (largest SIC), then interpolate in TPR
    tpr, idx = np.unique(curve.tpr, return_index=True)
    return np.interp(tpr_grid, tpr, curve.sic[idx], left=np.nan, right=np.nan)


def band(values: Sequence[np.ndarray] | np.ndarray, percentiles: Sequence[float] = (16, 84)):
    """Median and percentile band over seeds (axis 0), ignoring NaN; returns (median, lo, hi)."""
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(arr, axis=0)
            lo, hi = np.nanpercentile(arr, list(percentiles), axis=0)
    return med, lo, hi
