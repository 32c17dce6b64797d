"""Anomaly-score cuts per fold and the mjj binning anchored at the signal-region edges."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from anode_cathode.data.regions import Window

__all__ = ["apply_cut", "fold_thresholds", "histogram_edges"]

_TOL = 1e-6  # relative tolerance for "multiple of the bin width"


def fold_thresholds(
    score: np.ndarray, fold: np.ndarray, efficiency: float, select: np.ndarray | None = None
) -> dict[int, float]:
    """Per-fold score threshold that keeps the fraction ``efficiency`` of that fold's events.

    Rule: within fold k, among the events in ``select`` (e.g. those in the fit range), keep the
    ``round(efficiency * n_k)`` highest scores; the threshold is the lowest kept score and an
    event passes when ``score >= threshold`` (ties at the threshold all pass). Scores of
    different folds come from different models and are never compared.

    Parameters
    ----------
    score, fold
        Per event: anomaly score and index of the fold whose model scored it (1-d, same length).
    efficiency
        Fraction in (0, 1] of each fold's selected events to keep.
    select
        Events that count for the fraction (default: all).

    Returns
    -------
    dict of int to float
        Threshold per fold: ``-inf`` for ``efficiency = 1`` (everything passes), ``+inf`` for a
        fold that keeps no event.

    Raises
    ------
    ValueError
        Mismatched shapes, an efficiency outside (0, 1], or a non-finite selected score.
    """
    score = np.asarray(score, dtype=np.float64)
    fold = np.asarray(fold)
    if score.shape != fold.shape or score.ndim != 1:
        raise ValueError(f"score {score.shape} and fold {fold.shape} must be 1-d of equal length")
    if not 0.0 < efficiency <= 1.0:
        raise ValueError(f"efficiency must lie in (0, 1], got {efficiency}")
    select = np.ones(score.shape, bool) if select is None else np.asarray(select, dtype=bool)
    if select.shape != score.shape:
        raise ValueError(f"select has shape {select.shape}, expected {score.shape}")
    if not np.all(np.isfinite(score[select])):
        raise ValueError("scores contain NaN/inf: every selected event needs a finite score")
    out: dict[int, float] = {}
    for k in np.unique(fold):
        s = score[(fold == k) & select]
        n_keep = round(efficiency * s.size)
        if efficiency >= 1.0:
            out[int(k)] = -math.inf
        elif n_keep == 0:
            out[int(k)] = math.inf
        else:
            out[int(k)] = float(np.partition(s, s.size - n_keep)[s.size - n_keep])
    return out


def apply_cut(score: np.ndarray, fold: np.ndarray, thresholds: Mapping[int, float]) -> np.ndarray:
    """Boolean mask ``score >= thresholds[fold]`` (events of folds without threshold fail)."""
    score = np.asarray(score, dtype=np.float64)
    fold = np.asarray(fold)
    keep = np.zeros(score.shape, dtype=bool)
    for k, thr in thresholds.items():
        in_fold = fold == k
        keep[in_fold] = True if thr == -math.inf else score[in_fold] >= thr
    return keep


def histogram_edges(
    window: Window, fit_range: tuple[float, float], bin_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges anchored at ``sr_lo`` covering the fit range, and the mask of the SR bins.

    The SR width must be a multiple of ``bin_width``; the fit range is shrunk inwards to the
    nearest bin edges.

    Returns
    -------
    edges : numpy.ndarray
        Bin edges in TeV.
    sr : numpy.ndarray
        Boolean mask of the bins inside the signal region.

    Raises
    ------
    ValueError
        A fit range that is empty or does not contain the SR, or a bin width that does not
        divide the SR width.
    """
    lo, hi = float(fit_range[0]), float(fit_range[1])
    if not (0.0 < lo < hi and bin_width > 0.0):
        raise ValueError(f"need 0 < fit_range[0] < fit_range[1] and bin_width > 0: {fit_range}")
    if not (lo <= window.sr_lo and window.sr_hi <= hi):
        raise ValueError(
            f"signal region [{window.sr_lo}, {window.sr_hi}] must lie inside the fit range "
            f"{fit_range}: widen the fit range or drop this window"
        )
    n_sr = (window.sr_hi - window.sr_lo) / bin_width
    if abs(n_sr - round(n_sr)) > _TOL * max(n_sr, 1.0) or round(n_sr) < 1:
        raise ValueError(
            f"SR width {window.sr_hi - window.sr_lo:g} TeV is not a multiple of bin_width "
            f"{bin_width:g} TeV: choose a bin width that divides the SR width"
        )
    n_below = math.floor((window.sr_lo - lo) / bin_width + _TOL)
    n_above = math.floor((hi - window.sr_lo) / bin_width + _TOL)
    k = np.arange(-n_below, n_above + 1)
    edges = np.round(window.sr_lo + k * bin_width, 9)
    sr = (k[:-1] >= 0) & (k[:-1] < round(n_sr))
    return edges, sr
