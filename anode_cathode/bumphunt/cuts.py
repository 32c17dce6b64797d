"""Anomaly-score cuts per fold and the mjj binning anchored at the signal-region edges."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np

from anode_cathode.data.regions import Window

__all__ = ["Threshold", "apply_cut", "fold_thresholds", "histogram_edges", "tiebreak_keys"]

_TOL = 1e-6  # relative tolerance for "multiple of the bin width"


# Seed of the tie-break keys. A fixed stream keeps every cut reproducible; the keys are
# independent of m_JJ, so breaking ties with them sculpts nothing.
_TIEBREAK_SEED = 20211204

Threshold = tuple[float, float]
"""A fold's cut: ``(score, key)``; an event passes when ``(score, key)`` is at least this pair
in lexicographic order."""


@functools.lru_cache(maxsize=4)
def tiebreak_keys(n: int) -> np.ndarray:
    """Secondary sort key of ``n`` events in table order: uniform numbers from a fixed stream.

    Scores can tie (a boosted tree gives every event in the same leaves the same score), and a
    plain ``score >= threshold`` cut then keeps every tied event, more than the nominal
    fraction. Ordering by ``(score, key)`` has no ties, so a cut keeps exactly its fraction;
    applied to another sample, the tied events at the threshold pass with the same probability.
    """
    keys = np.random.default_rng(_TIEBREAK_SEED).random(int(n))
    keys.flags.writeable = False  # cached: every cut of every efficiency reads the same keys
    return keys


def _keys(keys: np.ndarray | None, n: int) -> np.ndarray:
    if keys is None:
        return tiebreak_keys(n)
    keys = np.asarray(keys, dtype=np.float64)
    if keys.shape != (n,):
        raise ValueError(f"keys has shape {keys.shape}, expected ({n},)")
    return keys


def fold_thresholds(
    score: np.ndarray,
    fold: np.ndarray,
    efficiency: float,
    select: np.ndarray | None = None,
    keys: np.ndarray | None = None,
) -> dict[int, Threshold]:
    """Per-fold cut that keeps exactly the fraction ``efficiency`` of that fold's events.

    Rule: within fold k, among the events in ``select`` (e.g. those in the fit range), keep the
    ``round(efficiency * n_k)`` events ranked highest by ``(score, key)``; the cut is the pair
    of the lowest kept event. Scores of different folds come from different models and are
    never compared.

    Parameters
    ----------
    score, fold
        Per event: anomaly score and index of the fold whose model scored it (1-d, same length).
    efficiency
        Fraction in (0, 1] of each fold's selected events to keep.
    select
        Events that count for the fraction (default: all).
    keys
        Tie-break key per event (default: :func:`tiebreak_keys`).

    Returns
    -------
    dict of int to (float, float)
        Cut per fold: ``(-inf, -inf)`` for ``efficiency = 1`` (everything passes),
        ``(inf, inf)`` for a fold that keeps no event.

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
    keys = _keys(keys, score.size)
    out: dict[int, Threshold] = {}
    for k in np.unique(fold):
        in_fold = (fold == k) & select
        s, u = score[in_fold], keys[in_fold]
        n_keep = round(efficiency * s.size)
        if efficiency >= 1.0:
            out[int(k)] = (-math.inf, -math.inf)
        elif n_keep == 0:
            out[int(k)] = (math.inf, math.inf)
        else:
            lowest = np.lexsort((u, s))[s.size - n_keep]
            out[int(k)] = (float(s[lowest]), float(u[lowest]))
    return out


def apply_cut(
    score: np.ndarray,
    fold: np.ndarray,
    thresholds: Mapping[int, Threshold | float],
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask: ``(score, key) >= thresholds[fold]`` (folds without a cut fail).

    A plain float threshold (older results) means ``score >= threshold``, ties included.
    ``keys`` as in :func:`fold_thresholds`.
    """
    score = np.asarray(score, dtype=np.float64)
    fold = np.asarray(fold)
    keys = _keys(keys, score.size)
    keep = np.zeros(score.shape, dtype=bool)
    for k, cut in thresholds.items():
        s_cut, u_cut = (cut, -math.inf) if np.isscalar(cut) else cut
        in_fold = fold == k
        if s_cut == -math.inf:
            keep[in_fold] = True
            continue
        s, u = score[in_fold], keys[in_fold]
        keep[in_fold] = (s > s_cut) | ((s == s_cut) & (u >= u_cut))
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
