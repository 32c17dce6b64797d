"""Signal-plus-background fit of a post-cut m_JJ spectrum: how much signal is in the SR?

The bump hunt's background estimate is a fit to the sidebands alone. A real signal has the
width of the detector resolution: some of it falls into the bins next to the SR, where the
sideband fit takes it for background and raises the prediction in the SR. The excess
n_obs - b then underestimates the signal (injection linearity: slopes below 1), most of all
for a signal at a window boundary, half of which lies in the sideband.

This fit describes the whole spectrum of the fit range, SR included, as the dijet function
plus a Gaussian of free yield, whose width is the resolution (a fraction of the mass) and
whose mean is profiled over the SR widened by one resolution on each side: a signal whose peak
lies just outside the SR (a mass between two windows, or a peak pulled low by radiation) still
puts its tail into the SR, and a mean confined to the SR would push that tail's yield to the
SR edge and overstate it. Its yield inside the SR estimates the signal there. It
measures a signal of an assumed width; it is not the search's test (the local and global
p-values stay with the sideband fit, whose calibration assumes no signal shape).

Where the signal's own m_JJ shape after the cut is known (an injection test: the labelled
signal events that pass; an analysis: its signal simulation), :func:`fit_signal_template`
fits that shape instead of the Gaussian: a real resonance has a low-mass tail (radiation,
jet mass lost outside the jets) that a Gaussian does not have, and that part of the signal
would otherwise count as background.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from scipy.special import ndtr, xlogy

from anode_cathode.bumphunt.functions import expected_counts, fit_dijet, parse_fit_model

__all__ = [
    "SignalFit",
    "fit_signal_plus_background",
    "fit_signal_template",
    "gaussian_bin_fractions",
]

#: Grid step of the profiled signal mean, in bins of the spectrum.
MEAN_STEP_BINS = 0.25


@dataclass(frozen=True)
class SignalFit:
    """Result of :func:`fit_signal_plus_background`.

    Attributes
    ----------
    signal_sr, signal_sr_error
        Fitted signal events inside the SR bins and their uncertainty (HESSE at the best mean).
    signal_total
        Fitted signal yield over the fit range, SR included.
    mean
        Best signal mean (TeV) on the grid over the widened SR.
    deviance
        Poisson deviance of the best fit.
    """

    signal_sr: float
    signal_sr_error: float
    signal_total: float
    mean: float
    deviance: float


def gaussian_bin_fractions(edges: np.ndarray, mean: float, sigma: float) -> np.ndarray:
    """Fraction of a normal distribution N(mean, sigma) in each bin."""
    return np.diff(ndtr((np.asarray(edges, dtype=np.float64) - mean) / sigma))


class _Deviance:
    """Poisson deviance of background (dijet parameters) plus yield times a fixed shape."""

    def __init__(self, edges, counts, used, shape, n_params, family) -> None:
        self.edges, self.used, self.shape = edges, used, shape[used]
        self.n = counts[used]
        self.n_params, self.family = n_params, family

    def __call__(self, theta: np.ndarray) -> float:
        with np.errstate(over="ignore"):  # MIGRAD's trial steps can leave the float range
            bkg = expected_counts(self.edges, theta[:-1], self.used, self.n_params, self.family)
        mu = bkg[self.used] + theta[-1] * self.shape
        if not np.all(np.isfinite(mu)) or np.any(mu <= 0):
            return 1e300
        return 2.0 * float(np.sum(mu - self.n + xlogy(self.n, self.n / mu)))


def _signal_means(edges: np.ndarray, sr: np.ndarray, width: float) -> np.ndarray:
    """The grid of signal means: the SR widened by one resolution on each side, steps of
    :data:`MEAN_STEP_BINS` bins."""
    low = edges[:-1][sr].min() * (1.0 - width)
    high = edges[1:][sr].max() * (1.0 + width)
    step = MEAN_STEP_BINS * float(np.median(np.diff(edges)))
    return np.linspace(low, high, round((high - low) / step) + 1)


def fit_signal_plus_background(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    fit_mask: Sequence[bool] | np.ndarray,
    sr_mask: Sequence[bool] | np.ndarray,
    fit_model: str,
    width: float,
) -> SignalFit:
    """Dijet function plus a Gaussian signal, fitted to the sideband and SR bins together.

    Parameters
    ----------
    edges, counts
        The post-cut spectrum (bin edges in TeV, counts per bin).
    fit_mask, sr_mask
        The sideband bins of the bump hunt's fit and the SR bins; this fit uses both.
    fit_model
        ``"3"``, ``"4"``, ``"5"`` or ``"ua2"`` (``"ftest"``: 4 dijet parameters).
    width
        Signal resolution as a fraction of the mass: sigma = width * mean.

    Returns
    -------
    SignalFit

    Raises
    ------
    ValueError
        The background-only starting fit fails, or no signal mean gives a valid fit.
    """
    edges = np.asarray(edges, dtype=np.float64)
    sr = np.asarray(sr_mask, dtype=bool)
    shapes = (
        (gaussian_bin_fractions(edges, mean, width * mean), float(mean))
        for mean in _signal_means(edges, sr, width)
    )
    return _best_fit(edges, counts, fit_mask, sr, fit_model, shapes)


def fit_signal_template(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    fit_mask: Sequence[bool] | np.ndarray,
    sr_mask: Sequence[bool] | np.ndarray,
    fit_model: str,
    template: Sequence[float] | np.ndarray,
) -> SignalFit:
    """Dijet function plus a signal of known shape (``template``: expected signal counts per
    bin, any normalisation), fitted to the sideband and SR bins together.

    Parameters are those of :func:`fit_signal_plus_background`, with ``template`` for the
    Gaussian's ``width``. ``SignalFit.mean`` is the template's mean m_JJ.

    Raises
    ------
    ValueError
        The template has no positive count in the fit range, or the fit fails.
    """
    edges = np.asarray(edges, dtype=np.float64)
    sr = np.asarray(sr_mask, dtype=bool)
    used = np.asarray(fit_mask, dtype=bool) | sr
    template = np.clip(np.asarray(template, dtype=np.float64), 0.0, None)
    if template.shape != (edges.size - 1,) or not template[used].sum() > 0:
        raise ValueError("the signal template needs one count per bin, some inside the fit range")
    shape = template / template[used].sum()
    mean = float(np.sum(shape * 0.5 * (edges[1:] + edges[:-1])))
    return _best_fit(edges, counts, fit_mask, sr, fit_model, [(shape, mean)])


def _best_fit(edges, counts, fit_mask, sr, fit_model, shapes) -> SignalFit:
    """The fit of background plus each ``(shape, mean)`` candidate; the best one's result."""
    counts = np.asarray(counts, dtype=np.float64)
    used = np.asarray(fit_mask, dtype=bool) | sr
    family, n_params = parse_fit_model("4" if fit_model == "ftest" else fit_model)
    start = fit_dijet(edges, counts, used & ~sr, n_params, family=family)
    excess = float(counts[sr].sum() - start.expected[sr].sum())
    theta_bkg = start.params.copy()
    theta_bkg[0] = math.log(start.expected[used].sum())  # normalised over SB and SR bins
    best: tuple[Minuit, np.ndarray, float] | None = None
    for shape, mean in shapes:
        cost = _Deviance(edges, counts, used, shape, n_params, family)
        m = Minuit(cost, np.append(theta_bkg, excess))
        m.errordef = Minuit.LEAST_SQUARES
        m.errors = np.append(np.maximum(start.errors, 1e-3), max(math.sqrt(counts[sr].sum()), 1.0))
        m.migrad()
        if m.valid and (best is None or m.fval < best[0].fval):
            best = (m, shape, mean)
    if best is None:
        raise ValueError("no valid signal-plus-background fit for any signal shape tried")
    m, shape, mean = best
    m.hesse()
    in_sr = float(shape[sr].sum())
    return SignalFit(
        signal_sr=float(m.values[-1]) * in_sr,
        signal_sr_error=float(m.errors[-1]) * in_sr,
        signal_total=float(m.values[-1]) * float(shape[used].sum()),
        mean=mean,
        deviance=float(m.fval),
    )
