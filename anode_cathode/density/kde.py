"""Kernel density estimate of the signal-region dijet mass, for CATHODE's sample conditions.

CATHODE (arXiv:2109.00546, docs/methods.md) draws the mjj values at which the sideband flow is
sampled from a Gaussian KDE of the signal-region data with bandwidth 0.01 in logit-scaled mjj:
``u = logit((mjj - lo) / (hi - lo))`` with the SR bounds ``lo, hi``. Sampling a Gaussian KDE is
resampling the data with Gaussian noise of width ``bandwidth`` in ``u``; mapping back keeps
every sample inside the SR.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["MassKDE"]

logger = logging.getLogger(__name__)

#: Events exactly on an SR bound are moved this far inside (in units of the SR width).
_EDGE = 1e-9


class MassKDE(BaseEstimator):
    """Gaussian KDE of mjj in logit-scaled coordinates, bounded to the signal region.

    Parameters
    ----------
    bandwidth
        Kernel width in logit-scaled mjj (CATHODE: 0.01).

    Attributes
    ----------
    bounds_
        ``(lo, hi)`` of the signal region (TeV).
    u_
        Logit-scaled training values, shape ``(N,)``.

    Examples
    --------
    >>> import numpy as np
    >>> mjj = np.random.default_rng(0).uniform(3.3, 3.7, 1000)
    >>> kde = MassKDE().fit(mjj, bounds=(3.3, 3.7))
    >>> s = kde.sample(5000, random_state=1)
    >>> s.shape, bool(((s > 3.3) & (s < 3.7)).all())
    ((5000,), True)
    """

    def __init__(self, bandwidth: float = 0.01) -> None:
        self.bandwidth = bandwidth

    def fit(self, mjj: Any, bounds: tuple[float, float]) -> MassKDE:
        """Fit to signal-region masses ``mjj`` (TeV) with SR ``bounds = (lo, hi)``.

        Values on a bound (the SR is ``[lo, hi)``) are moved inside by a negligible amount.

        Raises
        ------
        ValueError
            If a value is not finite or lies outside ``[lo, hi]``, or the bandwidth is not
            positive.
        """
        lo, hi = (float(b) for b in bounds)
        if not lo < hi:
            raise ValueError(f"bounds must satisfy lo < hi, got {bounds}")
        if not float(self.bandwidth) > 0:
            raise ValueError(f"bandwidth must be > 0, got {self.bandwidth}")
        mjj = np.asarray(mjj, dtype=np.float64).reshape(-1)
        if mjj.size == 0:
            raise ValueError("mjj is empty")
        bad = ~np.isfinite(mjj) | (mjj < lo) | (mjj > hi)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} of {mjj.size} mjj values are outside [{lo}, {hi}]")
        u = (mjj - lo) / (hi - lo)
        n_edge = int(np.sum((u <= 0) | (u >= 1)))
        if n_edge:
            logger.info("%d mjj values on the SR bounds moved inside by %g", n_edge, _EDGE)
        self.bounds_ = (lo, hi)
        self.u_ = logit(np.clip(u, _EDGE, 1.0 - _EDGE))
        return self

    def sample(self, n: int, random_state: int | np.random.RandomState | None = None) -> np.ndarray:
        """Draw ``n`` masses (TeV), float64, all strictly inside the SR bounds."""
        check_is_fitted(self, ("bounds_", "u_"))
        rng = check_random_state(random_state)
        pick = rng.randint(self.u_.size, size=int(n))
        u = self.u_[pick] + float(self.bandwidth) * rng.standard_normal(int(n))
        lo, hi = self.bounds_
        x = np.clip(expit(u), _EDGE, 1.0 - _EDGE)  # expit rounds to 1.0 above u ≈ 37
        return lo + x * (hi - lo)
