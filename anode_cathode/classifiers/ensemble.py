"""Epoch ensembles and the class weighting shared by every classifier and trainer.

CATHODE (arXiv:2109.00546) predicts with the mean of the models saved after the epochs with the
lowest validation loss. Two traps of earlier code are avoided here (PHYSICS.md §6): index ``i``
always means *the model after epoch* ``i + 1`` (no untrained entry at index 0), and a
non-finite validation loss is an error, never silently dropped.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "ProbabilityMixin",
    "TopKSnapshots",
    "balanced_sample_weight",
    "check_features",
    "check_sample_weight",
    "encode_binary_target",
    "select_best_epochs",
]

T = TypeVar("T")

# scikit-learn renamed ``force_all_finite`` to ``ensure_all_finite`` in 1.6 and dropped the old name
_FINITE_KW = (
    "ensure_all_finite"
    if "ensure_all_finite" in inspect.signature(check_array).parameters
    else "force_all_finite"
)


def _non_finite_message(losses: np.ndarray, what: str) -> str:
    bad = np.flatnonzero(~np.isfinite(losses))
    shown = ", ".join(f"{i + 1} ({losses[i]})" for i in bad[:10])
    more = f" and {bad.size - 10} more" if bad.size > 10 else ""
    return f"{what} is not finite at epoch(s) {shown}{more} (epochs counted from 1)"


def select_best_epochs(val_losses: Sequence[float], k: int) -> np.ndarray:
    """Indices of the ``k`` epochs with the lowest validation loss, best first.

    Parameters
    ----------
    val_losses
        One loss per *trained* epoch: entry ``i`` belongs to the model after epoch ``i + 1``.
        Do not prepend the loss of the untrained model.
    k
        Number of epochs to keep; all epochs when ``k`` exceeds their number.

    Returns
    -------
    numpy.ndarray
        0-based ``int64`` indices into ``val_losses``, sorted by loss (ties: earlier epoch first).

    Raises
    ------
    FloatingPointError
        If any loss is NaN or infinite; the message names the epoch(s).

    Examples
    --------
    >>> select_best_epochs([0.9, 0.5, 0.7, 0.4], k=2)
    array([3, 1])
    """
    losses = np.asarray(val_losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"val_losses must be a non-empty 1-d sequence, got shape {losses.shape}")
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError(_non_finite_message(losses, "validation loss"))
    return np.argsort(losses, kind="stable")[: int(k)].astype(np.int64)


class TopKSnapshots(Generic[T]):
    """Running top-``k`` of per-epoch snapshots by validation loss (bounded memory).

    Keeps exactly the epochs that :func:`select_best_epochs` would select on the full loss
    history, including its tie-breaking, while storing at most ``k`` snapshots.

    Examples
    --------
    >>> keep = TopKSnapshots(2)
    >>> for epoch, loss in enumerate([0.9, 0.5, 0.7, 0.4]):
    ...     _ = keep.offer(epoch, loss, lambda: f"model {epoch + 1}")
    >>> keep.indices, keep.snapshots
    (array([3, 1]), ['model 4', 'model 2'])
    """

    def __init__(self, k: int) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = int(k)
        self._items: list[tuple[float, int, T]] = []

    def offer(self, index: int, loss: float, snapshot: Callable[[], T]) -> bool:
        """Consider epoch ``index`` (0-based) with ``loss``; call ``snapshot()`` only if kept.

        Indices must be offered in increasing order. Returns whether the epoch was kept.
        """
        loss = float(loss)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"validation loss is not finite at epoch {index + 1} ({loss}) "
                "(epochs counted from 1)"
            )
        if self._items and index <= max(i for _, i, _ in self._items):
            raise ValueError("epochs must be offered in increasing order")
        if len(self._items) < self.k:
            self._items.append((loss, index, snapshot()))
            return True
        worst = max(range(len(self._items)), key=lambda j: self._items[j][:2])
        if loss < self._items[worst][0]:  # a later epoch with an equal loss loses the tie
            self._items[worst] = (loss, index, snapshot())
            return True
        return False

    def _sorted(self) -> list[tuple[float, int, T]]:
        return sorted(self._items, key=lambda item: item[:2])

    @property
    def indices(self) -> np.ndarray:
        """0-based epoch indices kept, best first."""
        return np.array([i for _, i, _ in self._sorted()], dtype=np.int64)

    @property
    def snapshots(self) -> list[T]:
        """Snapshots kept, in the order of :attr:`indices`."""
        return [s for _, _, s in self._sorted()]


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


class ProbabilityMixin:
    """``predict_proba``/``predict`` of a binary classifier from its ``decision_function``
    (the ensemble-mean probability of class 1)."""

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(N, 2)``, columns in the order of ``classes_``."""
        p = self.decision_function(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Class label with the higher ensemble probability."""
        positive = self.decision_function(X) > 0.5  # checks fitted state before classes_
        return self.classes_[positive.astype(np.intp)]
