"""Robustness of the background fit: bias tests across function families, fit-range variation.

The background under the signal region is an interpolation of a smooth function fitted to the
sidebands. If the true spectrum is not a member of that function's family, the interpolation is
biased, and the bias reads as signal. Two standard checks (docs/bumphunt.md):

* **Bias test** (:func:`fit_bias`, :func:`bias_table`): background-only pseudo-spectra are drawn
  from one function (the *truth*, fitted to the observed spectrum) and fitted, SR excluded, with
  another; the pull (b_fit − b_true) / σ_b of the predicted SR background is averaged over the
  pseudo-spectra. A mean pull of a few tenths means a spurious signal of that fraction of the
  fit uncertainty; the usual requirement is |mean pull| < 0.5 against every plausible truth.
* **Fit-range variation** (:func:`fit_range_variation`): the SR prediction with the lower edge
  of the fit range moved, as a shift in units of σ_b. Shifts well below 1 mean the result does
  not hinge on where the fit starts.

Reference: the spurious-signal and bias tests of the dijet searches, e.g. ATLAS, Phys. Rev. D
96 (2017) 052004, arXiv:1703.09127; CMS, JHEP 05 (2020) 033, arXiv:1911.03947.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from anode_cathode.bumphunt.functions import predict
from anode_cathode.bumphunt.window import configured_fit

__all__ = ["BiasResult", "bias_table", "fit_bias", "fit_range_variation"]


@dataclass(frozen=True)
class BiasResult:
    """Pulls of the SR background prediction over background-only pseudo-spectra.

    Attributes
    ----------
    truth, fit
        Function that generated the pseudo-spectra and the one fitted to them (``fit_model``
        names: ``"3"``, ``"4"``, ``"5"``, ``"ua2"``, ``"ftest"``).
    b_true
        Expected SR background of the truth.
    mean_pull, std_pull
        Mean and standard deviation of (b_fit − b_true) / σ_b (0 and 1 for an unbiased fit
        with honest uncertainty).
    mean_sigma_b
        Mean fit uncertainty σ_b of the SR prediction.
    n_toys, n_failed
        Pseudo-spectra drawn and fits that failed (left out of the means).
    """

    truth: str
    fit: str
    b_true: float
    mean_pull: float
    std_pull: float
    mean_sigma_b: float
    n_toys: int
    n_failed: int


def fit_bias(
    edges: np.ndarray,
    truth_expected: np.ndarray,
    sr_mask: np.ndarray,
    fit_mask: np.ndarray,
    fit_model: str,
    n_toys: int,
    seed: int,
    *,
    truth: str = "",
    alpha: float = 0.05,
) -> BiasResult:
    """Pull of the SR prediction when ``fit_model`` is fitted to Poisson draws of a truth.

    Parameters
    ----------
    edges
        Bin edges (TeV).
    truth_expected
        Expected counts per bin of the truth (e.g. ``configured_fit(...).expected``).
    sr_mask, fit_mask
        The SR bins (predicted) and the bins the fit uses (SR excluded).
    fit_model
        The fitted function, as ``bumphunt.fit_model``.
    n_toys, seed
        Number of pseudo-spectra and their random seed.
    truth
        Name of the truth, recorded in the result.
    alpha
        F-test level when ``fit_model`` is ``"ftest"``.
    """
    sr_mask, fit_mask = np.asarray(sr_mask, dtype=bool), np.asarray(fit_mask, dtype=bool)
    if np.any(sr_mask & fit_mask):
        raise ValueError("fit_mask must exclude the SR bins: the test is of the interpolation")
    if n_toys < 2:
        raise ValueError(f"n_toys must be >= 2, got {n_toys}")
    truth_expected = np.asarray(truth_expected, dtype=np.float64)
    b_true = float(truth_expected[sr_mask].sum())
    rng = np.random.default_rng(seed)
    pulls, sigmas = [], []
    for toy in rng.poisson(truth_expected, size=(n_toys, truth_expected.size)).astype(float):
        try:
            fit = configured_fit(edges, toy, fit_mask, fit_model, alpha)
            b, sigma_b = predict(fit, sr_mask)
        except ValueError:
            continue
        if sigma_b > 0:
            pulls.append((b - b_true) / sigma_b)
            sigmas.append(sigma_b)
    n_ok = len(pulls)
    return BiasResult(
        truth=truth,
        fit=fit_model,
        b_true=b_true,
        mean_pull=float(np.mean(pulls)) if n_ok else math.nan,
        std_pull=float(np.std(pulls, ddof=1)) if n_ok > 1 else math.nan,
        mean_sigma_b=float(np.mean(sigmas)) if n_ok else math.nan,
        n_toys=int(n_toys),
        n_failed=int(n_toys - n_ok),
    )


def bias_table(
    edges: np.ndarray,
    counts: np.ndarray,
    sr_mask: np.ndarray,
    fit_mask: np.ndarray,
    truths: Sequence[str] = ("3", "4", "5", "ua2"),
    fits: Sequence[str] = ("3", "4", "5", "ua2", "ftest"),
    n_toys: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Bias test of every ``fits`` function against every ``truths`` function.

    Each truth is fitted to the whole observed spectrum (SR included: background-only data),
    then :func:`fit_bias` runs with the same pseudo-spectra for every fitted function. Truths
    that cannot be fitted to ``counts`` are skipped. One row per (truth, fit).
    """
    counts = np.asarray(counts, dtype=np.float64)
    everything = np.asarray(fit_mask, dtype=bool) | np.asarray(sr_mask, dtype=bool)
    rows = []
    for i, truth in enumerate(truths):
        try:
            expected = configured_fit(edges, counts, everything, truth, 0.05).expected
        except ValueError:
            continue
        for fit in fits:
            res = fit_bias(edges, expected, sr_mask, fit_mask, fit, n_toys, seed + i, truth=truth)
            rows.append(asdict(res))
    return pd.DataFrame(rows)


def fit_range_variation(
    edges: np.ndarray,
    counts: np.ndarray,
    sr_mask: np.ndarray,
    fit_mask: np.ndarray,
    fit_model: str,
    lows: Sequence[float],
) -> pd.DataFrame:
    """SR prediction with the fit range starting at each of ``lows`` (TeV).

    Bins of ``fit_mask`` below a lower edge are dropped from the fit. One row per lower edge:
    ``low``, ``b``, ``sigma_b``, ``shift`` = (b − b_nominal) / σ_b,nominal (the change as a
    fraction of the quoted uncertainty, where the nominal fit uses ``fit_mask`` as given) and
    ``significance`` = (b − b_nominal) / √(σ_b² − σ_b,nominal²): the change against what the
    dropped bins alone let it fluctuate (a misfit shows up as |significance| ≫ 1). A fit that
    fails gives NaN in its row.
    """
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    fit_mask = np.asarray(fit_mask, dtype=bool)
    b0, s0 = predict(configured_fit(edges, counts, fit_mask, fit_model, 0.05), sr_mask)
    rows = []
    for low in lows:
        mask = fit_mask & (edges[:-1] >= float(low) - 1e-9)
        try:
            b, s = predict(configured_fit(edges, counts, mask, fit_model, 0.05), sr_mask)
        except ValueError:
            b, s = math.nan, math.nan
        if s > s0:
            significance = (b - b0) / math.sqrt(s**2 - s0**2)
        else:  # the nominal range itself (or a failed fit: NaN)
            significance = 0.0 if b == b0 else math.nan
        rows.append(
            {
                "low": float(low),
                "b": b,
                "sigma_b": s,
                "shift": (b - b0) / s0,
                "significance": significance,
            }
        )
    return pd.DataFrame(rows)
