"""Invertible preprocessing of the flow inputs: min-max scaling, logit, standardisation.

CATHODE (arXiv:2109.00546, following ANODE, arXiv:2001.04990) maps every feature to (0, 1) with
the minimum and maximum of the training data, applies the logit and standardises the result.
Densities compared between models (ANODE's ratio) must be densities of the *original* features,

    log p_X(x) = log p_Z(z) + log |det dz/dx|,

so :meth:`LogitPreprocessor.log_abs_det_jacobian` gives the exact log-Jacobian of the chain per
event, next to :meth:`LogitPreprocessor.transform`.

The logit is only defined inside the fitted range. Here the range is widened by a small
``margin`` on both sides, so that every training event lies strictly inside it; events outside
it (for example signal-region data beyond the sideband range) are never turned into NaN: they
are flagged by :meth:`~LogitPreprocessor.in_support`, rejected by
:meth:`~LogitPreprocessor.transform` or, on request, clipped with a logged count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["LogitPreprocessor"]

logger = logging.getLogger(__name__)

_FITTED = ("lower_", "upper_", "mean_", "scale_")
# a feature's support starts this fraction of its range below a physical bound, so that an
# event exactly at the bound (two jets of equal mass: delta_mj = 0) stays finite
_BOUND_GAP = 1e-6


def _as_2d(X: Any, n_features: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d array of shape (n_events, n_features), got {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, the preprocessing was fitted on {n_features}"
        )
    return X


class LogitPreprocessor(BaseEstimator):
    """Min-max scaling to (0, 1), logit and standardisation, with the exact Jacobian.

    Parameters
    ----------
    margin
        Fraction of the training range added below the minimum and above the maximum of every
        feature before scaling, so that the training data lie strictly inside (0, 1) and the
        logit stays finite. ``margin=0`` reproduces the plain min-max scaling of CATHODE, which
        maps the extreme training events to ±inf (they then count as outside the support).
    lower_bounds
        Physical lower bound per feature (``None``: none), e.g. 0 for a mass difference that
        is non-negative by construction. Such a feature's support starts at the bound (less
        ``1e-6`` of the range) instead of ``margin`` below the smallest training value: a
        density with a hard edge then becomes a smooth tail after the squashing function,
        which a flow can learn, instead of a cliff inside the space, which it smears (samples
        below the bound, a deficit just above it). :meth:`inverse_transform` never returns a
        value below the bound.

    Attributes
    ----------
    data_min_, data_max_
        Per-feature minimum and maximum of the training data (NaN ignored).
    lower_, upper_
        Support: ``data_min_ - margin * range`` and ``data_max_ + margin * range``. An event is
        inside when ``lower_ < x < upper_`` holds for every feature.
    mean_, scale_
        Mean and standard deviation of the logit-scaled training data.
    n_features_in_
        Number of features.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, (1000, 2))
    >>> pre = LogitPreprocessor(margin=0.01).fit(X)
    >>> Z, log_det = pre.transform(X), pre.log_abs_det_jacobian(X)
    >>> Z.shape, log_det.shape, bool(np.allclose(pre.inverse_transform(Z), X))
    ((1000, 2), (1000,), True)
    >>> bool(pre.in_support(X).all()), bool(pre.in_support(X + 100.0).any())
    (True, False)
    """

    def __init__(
        self,
        margin: float = 0.01,
        lower_bounds: Sequence[float | None] | None = None,
    ) -> None:
        self.margin = margin
        self.lower_bounds = lower_bounds

    def fit(self, X: Any, y: Any = None) -> LogitPreprocessor:
        """Fit the range, then the mean and standard deviation of the logit, on ``X``.

        Rows with NaN are ignored here (they stay NaN under :meth:`transform`).

        Raises
        ------
        ValueError
            If a feature is constant or has no finite value, ``margin`` is negative or a
            training value lies below its feature's physical bound.
        """
        X = _as_2d(X)
        if not float(self.margin) >= 0.0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        bounds = [None] * X.shape[1] if self.lower_bounds is None else list(self.lower_bounds)
        if len(bounds) != X.shape[1]:
            raise ValueError(f"lower_bounds has {len(bounds)} entries for {X.shape[1]} features")
        finite = np.isfinite(X).all(axis=1)
        if not finite.any():
            raise ValueError("X has no row with only finite values")
        Xf = X[finite]
        self.n_features_in_ = X.shape[1]
        self.data_min_ = Xf.min(axis=0)
        self.data_max_ = Xf.max(axis=0)
        width = self.data_max_ - self.data_min_
        constant = np.flatnonzero(width <= 0)
        if constant.size:
            raise ValueError(f"feature(s) {constant.tolist()} are constant in the training data")
        self.lower_ = self.data_min_ - float(self.margin) * width
        self.floor_ = self.lower_.copy()
        for j, bound in enumerate(bounds):
            if bound is None:
                continue
            if self.data_min_[j] < bound:
                raise ValueError(
                    f"feature {j} has training values down to {self.data_min_[j]:g}, below its "
                    f"physical lower bound {bound:g}"
                )
            self.lower_[j] = bound - _BOUND_GAP * width[j]
            self.floor_[j] = bound
        self.upper_ = self.data_max_ + float(self.margin) * width
        self.mean_ = np.zeros(X.shape[1])
        self.scale_ = np.ones(X.shape[1])
        inside = self.in_support(Xf)  # all of them when margin > 0
        y_logit = self._logit(Xf[inside])
        self.mean_ = y_logit.mean(axis=0)
        std = y_logit.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    # ----------------------------------------------------------------- helpers
    def _unit(self, X: np.ndarray) -> np.ndarray:
        return (X - self.lower_) / (self.upper_ - self.lower_)

    def _logit(self, X: np.ndarray) -> np.ndarray:
        u = self._unit(X)
        return np.log(u) - np.log1p(-u)

    def in_support(self, X: Any) -> np.ndarray:
        """Boolean mask, shape ``(N,)``: every feature strictly inside ``(lower_, upper_)``.

        Rows with NaN are not in the support.
        """
        check_is_fitted(self, _FITTED)
        X = _as_2d(X, self.n_features_in_)
        return np.all((X > self.lower_) & (X < self.upper_), axis=1)

    def _checked(self, X: Any, outside: Literal["raise", "clip"]) -> np.ndarray:
        """``X`` as a 2-d array with finite events outside the support raised or clipped."""
        check_is_fitted(self, _FITTED)
        X = _as_2d(X, self.n_features_in_)
        bad = np.isfinite(X).all(axis=1) & ~self.in_support(X)
        n_bad = int(bad.sum())
        if n_bad:
            if outside == "raise":
                raise ValueError(
                    f"{n_bad} of {len(X)} events lie outside the fitted range of the "
                    "preprocessing; select them with in_support() or use outside='clip'"
                )
            if outside != "clip":
                raise ValueError(f"outside must be 'raise' or 'clip', got {outside!r}")
            logger.warning(
                "clipping %d of %d events outside the fitted range to the training range",
                n_bad,
                len(X),
            )
            X = np.clip(X, self.data_min_, self.data_max_)
        return X

    def transform(self, X: Any, *, outside: Literal["raise", "clip"] = "raise") -> np.ndarray:
        """Map ``X`` to the standardised logit space.

        Parameters
        ----------
        X
            Events, shape ``(N, n_features_in_)``.
        outside
            What to do with finite events outside the support: ``"raise"`` a ``ValueError``
            giving their number, or ``"clip"`` them feature by feature to
            ``[data_min_, data_max_]`` (logged at WARNING with their number). Rows with NaN are
            neither: they give NaN.

        Returns
        -------
        numpy.ndarray
            Transformed events, shape ``(N, n_features_in_)``, float64.
        """
        return (self._logit(self._checked(X, outside)) - self.mean_) / self.scale_

    def log_abs_det_jacobian(
        self, X: Any, *, outside: Literal["raise", "clip"] = "raise"
    ) -> np.ndarray:
        """``log |det dz/dx|`` of :meth:`transform` per event, shape ``(N,)``.

        With it, ``log p_X(x) = log p_Z(transform(x)) + log_abs_det_jacobian(x)``. ``outside``
        as in :meth:`transform`.
        """
        u = self._unit(self._checked(X, outside))
        # d z_j / d x_j = 1 / (width_j * u_j * (1 - u_j) * scale_j); the Jacobian is diagonal
        return -np.sum(
            np.log(self.upper_ - self.lower_) + np.log(u) + np.log1p(-u) + np.log(self.scale_),
            axis=1,
        )

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Map standardised logits back to the original features, inside ``[floor_, upper_]``
        (``floor_``: a feature's physical bound, else ``lower_``)."""
        check_is_fitted(self, _FITTED)
        Z = _as_2d(Z, self.n_features_in_)
        u = expit(Z * self.scale_ + self.mean_)
        # the support starts 1e-6 of the range below a physical bound: map that sliver onto it
        return np.maximum(self.lower_ + u * (self.upper_ - self.lower_), self.floor_)

    # ------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        """Fitted state as plain lists (for ``torch.save(..., weights_only=True)``)."""
        check_is_fitted(self, _FITTED)
        names = ("data_min_", "data_max_", "lower_", "upper_", "floor_", "mean_", "scale_")
        return {"margin": float(self.margin), **{k: getattr(self, k).tolist() for k in names}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LogitPreprocessor:
        """Inverse of :meth:`state`."""
        pre = cls(margin=state["margin"])
        for key, value in state.items():
            if key != "margin":
                setattr(pre, key, np.asarray(value, dtype=np.float64))
        if not hasattr(pre, "floor_"):  # saved before physical bounds existed
            pre.floor_ = pre.lower_.copy()
        pre.n_features_in_ = len(pre.lower_)
        return pre
