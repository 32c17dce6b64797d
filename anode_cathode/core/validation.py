"""Input validation shared by the classifiers and the flows (scikit-learn conventions)."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "balanced_sample_weight",
    "check_features",
    "check_sample_weight",
    "encode_binary_target",
]

# scikit-learn renamed ``force_all_finite`` to ``ensure_all_finite`` in 1.6 and dropped the old name
_FINITE_KW = (
    "ensure_all_finite"
    if "ensure_all_finite" in inspect.signature(check_array).parameters
    else "force_all_finite"
)


def encode_binary_target(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes, y01)``: the two sorted class labels and ``y`` mapped to 0/1 floats."""
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is raveled",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-d, got shape {y.shape}")
    check_classification_targets(y)  # "Unknown label type" for continuous targets
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(f"Only binary classification is supported; y has {classes.size} class(es)")
    return classes, np.searchsorted(classes, y).astype(np.float64)


def check_features(
    X: Any,
    *,
    allow_nan: bool,
    dtype: Any = np.float64,
    n_features: int | None = None,
    owner: str = "the model",
) -> np.ndarray:
    """2-d numeric array from ``X`` (NaN/inf let through when ``allow_nan``).

    ``n_features``, when given, is the number of columns the fitted ``owner`` expects.
    """
    X = check_array(X, dtype=dtype, **{_FINITE_KW: not allow_nan})
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {owner} is expecting {n_features} features as input"
        )
    return X


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray:
    """Non-negative finite float64 weights of length ``n_samples`` (ones when ``None``)."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != n_samples:
        raise ValueError(f"sample_weight has {w.shape[0]} entries for {n_samples} samples")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if n_samples and not np.any(w > 0):
        raise ValueError("sample_weight is zero for every sample")
    return w


def balanced_sample_weight(y: Any, sample_weight: Any = None) -> np.ndarray:
    """Per-sample weights giving every class the same total weight, with mean weight 1.

    Unlike scikit-learn's ``class_weight="balanced"`` (which counts samples), existing
    ``sample_weight`` is honoured: class totals are sums of weights.

    Parameters
    ----------
    y
        Class labels, shape ``(N,)``.
    sample_weight
        Optional non-negative weights, shape ``(N,)``.

    Returns
    -------
    numpy.ndarray
        ``float64`` weights of shape ``(N,)``; they sum to ``N``.

    Examples
    --------
    >>> balanced_sample_weight([0, 0, 0, 1])
    array([0.66666667, 0.66666667, 0.66666667, 2.        ])
    """
    y = np.asarray(y).reshape(-1)
    w = check_sample_weight(sample_weight, y.shape[0])
    classes, inverse = np.unique(y, return_inverse=True)
    totals = np.bincount(inverse, weights=w, minlength=classes.size)
    if np.any(totals <= 0):
        empty = classes[totals <= 0].tolist()
        raise ValueError(f"class(es) {empty} have zero total sample weight")
    return w * (y.shape[0] / (classes.size * totals))[inverse]
