"""Smoothed pseudo-data: background-only data sets drawn from a model of the data itself.

Where no background-only sample exists (unlabelled data), or where resampling the input's
background would give data sets that share events (the bootstrap of labelled input), null data
sets for the calibration can be drawn from a smooth model of the observed data:

* m_JJ from the dijet function fitted to the data's whole spectrum in the bump hunt's fit range
  (no signal region left out), and from the data's histogram outside it;
* the features from a conditional normalizing flow p(x | m_JJ) trained on all data events in
  that range.

Every pseudo-data set is then an independent draw from one fixed model. This is an
**approximation**: the data sets are as background-like as the model is. A localised signal in
the data is a small bump on a smooth fit and a small structure in the flow, which both smooth
out largely but not completely, and the flow's own mismodelling is in every pseudo-data set
(so the calibration measures how the chain reacts to flow-smoothed data, not to the true
background). Outputs of a calibration with these pseudo-data say so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.bumphunt.functions import dijet_density
from anode_cathode.bumphunt.window import configured_fit

__all__ = [
    "SmoothSpectrum",
    "draw_mjj",
    "fit_spectrum",
    "smoothed_events",
    "smoothing_range",
]

log = logging.getLogger(__name__)

#: Points of the grid on which the fitted spectrum is inverted (per TeV of the range).
_GRID_PER_TEV = 20_000
#: Bin width (TeV) of the data's histogram that models m_JJ outside the fit range.
_OUTSIDE_BIN = 0.01


def smoothing_range(cfg: Mapping[str, Any]) -> tuple[float, float]:
    """The m_JJ range the smooth model covers: the bump hunt's fit range and the windows'
    sideband range together (every event any step of the chain reads)."""
    lo, hi = cfg["bumphunt"]["fit_range"]
    sideband = cfg["windows"]["sideband"]
    if sideband is not None:
        lo, hi = min(lo, sideband[0]), max(hi, sideband[1])
    return float(lo), float(hi)


@dataclass(frozen=True)
class SmoothSpectrum:
    """m_JJ model of the data: the fitted dijet function inside the bump hunt's fit range
    (where signals are searched for, and where the function describes the spectrum), the
    data's own histogram in 10 GeV bins outside it (the sideband below a fit range that
    starts above the trigger-like turn-on, where no dijet function fits).

    Attributes
    ----------
    fit_range
        [lo, hi) of the fitted function.
    params, family
        Physics parameters and family of the fit (:func:`~anode_cathode.bumphunt.functions.
        dijet_density`).
    n_fit
        Data events in the fit range.
    outside_edges, outside_counts
        Histogram of the data's m_JJ outside the fit range (empty bins inside it).
    """

    fit_range: tuple[float, float]
    params: tuple[float, ...]
    family: str
    n_fit: int
    outside_edges: tuple[float, ...] = ()
    outside_counts: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SmoothSpectrum:
        return cls(
            fit_range=tuple(d["fit_range"]),
            params=tuple(d["params"]),
            family=d["family"],
            n_fit=int(d["n_fit"]),
            outside_edges=tuple(d["outside_edges"]),
            outside_counts=tuple(int(c) for c in d["outside_counts"]),
        )

    def draw(
        self,
        rng: np.random.Generator,
        mjj_range: tuple[float, float] | None = None,
        n: int | None = None,
    ) -> np.ndarray:
        """Masses of one pseudo-data set: Poisson counts around the data's (in ``mjj_range``
        only, when given: its share of the data), or exactly ``n`` events shared out in
        proportion to them."""
        lo, hi = self.fit_range
        r_lo, r_hi = mjj_range if mjj_range is not None else (-np.inf, np.inf)
        f_lo, f_hi = max(lo, r_lo), min(hi, r_hi)
        params = np.asarray(self.params)
        n_fit = self.n_fit * _share(params, self.family, lo, hi, f_lo, f_hi) if f_hi > f_lo else 0.0
        edges = np.asarray(self.outside_edges)
        if len(edges):
            left, right = np.maximum(edges[:-1], r_lo), np.minimum(edges[1:], r_hi)
            width = np.clip(right - left, 0.0, None)
            n_out = np.asarray(self.outside_counts) * width / np.diff(edges)
        else:
            left = width = n_out = np.zeros(0)
        expected = np.concatenate([[n_fit], n_out])
        if expected.sum() <= 0:
            raise ValueError(f"the smooth spectrum has no events in {mjj_range} TeV")
        counts = (
            rng.poisson(expected) if n is None else rng.multinomial(n, expected / expected.sum())
        )
        fitted = draw_mjj(params, self.family, f_lo, f_hi, counts[0], rng) if counts[0] else []
        which = np.repeat(np.arange(len(n_out)), counts[1:])
        binned = left[which] + rng.random(len(which)) * width[which]
        mjj = np.concatenate([fitted, binned])
        return mjj[rng.permutation(len(mjj))]


def _share(params: np.ndarray, family: str, lo: float, hi: float, a: float, b: float) -> float:
    """Fraction of the fitted function's integral over [lo, hi) that lies in [a, b)."""
    grid = np.linspace(lo, hi, 20_001)
    density = dijet_density(grid, params, family)
    inside = (grid >= a) & (grid <= b)
    return float(np.trapezoid(density * inside, grid) / np.trapezoid(density, grid))


def fit_spectrum(
    mjj: np.ndarray,
    fit_range: tuple[float, float],
    model_range: tuple[float, float],
    bin_width: float,
    fit_model: str,
    alpha: float,
) -> SmoothSpectrum:
    """The data's m_JJ model over ``model_range``: the configured dijet function fitted to
    the whole spectrum in ``fit_range`` (no signal region left out), the data's histogram
    elsewhere.

    Raises
    ------
    ValueError
        The fit failed or is not valid.
    """
    mjj = np.asarray(mjj, dtype=np.float64)
    lo, hi = fit_range
    n_bins = max(round((hi - lo) / bin_width), 1)
    edges = np.linspace(lo, hi, n_bins + 1)
    counts, _ = np.histogram(mjj, bins=edges)
    fit = configured_fit(edges, counts, np.ones(len(counts), bool), fit_model, alpha)
    if not fit.valid:
        raise ValueError(
            f"the fit of the data's m_JJ spectrum in [{lo}, {hi}) TeV is not valid; try "
            "another bumphunt.fit_model or bin_width"
        )
    log.info(
        "smooth spectrum: %d-parameter %s fit to %d events in [%g, %g) TeV, gof p = %.3f",
        fit.n_params,
        fit.family,
        int(counts.sum()),
        lo,
        hi,
        fit.gof_pvalue,
    )
    m_lo, m_hi = model_range
    n_out = max(round((m_hi - m_lo) / _OUTSIDE_BIN), 1)
    out_edges = np.linspace(m_lo, m_hi, n_out + 1)
    outside = (mjj < lo) | (mjj >= hi)
    out_counts, _ = np.histogram(mjj[outside], bins=out_edges)
    return SmoothSpectrum(
        fit_range=(float(lo), float(hi)),
        params=tuple(float(p) for p in fit.physics_params()),
        family=fit.family,
        n_fit=int(counts.sum()),
        outside_edges=tuple(out_edges.tolist()) if out_counts.sum() else (),
        outside_counts=tuple(int(c) for c in out_counts) if out_counts.sum() else (),
    )


def draw_mjj(
    params: np.ndarray, family: str, lo: float, hi: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` masses in [lo, hi) from the fitted function (physics ``params``), by inverting
    its cumulative integral on a fine grid."""
    grid = np.linspace(lo, hi, max(int(_GRID_PER_TEV * (hi - lo)), 1000) + 1)
    density = dijet_density(grid, params, family)
    steps = 0.5 * (density[1:] + density[:-1]) * np.diff(grid)
    cdf = np.concatenate([[0.0], np.cumsum(steps)])
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def smoothed_events(
    flow: Any,
    features: list[str],
    spectrum: SmoothSpectrum,
    seed: int,
    mjj_range: tuple[float, float] | None = None,
    n: int | None = None,
) -> pd.DataFrame:
    """Background-like events: m_JJ from ``spectrum`` (:meth:`SmoothSpectrum.draw`), the
    flow's ``features`` at each mass; ``label`` 0 (the model's events are the null
    hypothesis)."""
    rng = np.random.default_rng(seed)
    mjj = spectrum.draw(rng, mjj_range, n)
    x = flow.sample(mjj, random_state=int(rng.integers(2**31)))
    table = pd.DataFrame(x, columns=features)
    table["mjj"] = mjj
    table["label"] = 0.0
    return table
