"""What the MLP and the boosted-tree ensemble share: scikit-learn's binary-classifier outputs
from one ensemble-mean probability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["ProbabilityMixin"]

#: Probabilities are clipped to [_EPS, 1 - _EPS] before the logit, so scores stay finite.
_EPS = 1e-15


class ProbabilityMixin:
    """``predict_proba``, ``decision_function`` and ``predict`` of a binary ensemble.

    The classifier defines ``_positive_probability(X)``: the mean over the ensemble members of
    the probability of ``classes_[1]``, which also checks the fitted state and ``X``.
    """

    _positive_probability: Callable[[Any], np.ndarray]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(N, 2)``, columns in the order of ``classes_``."""
        p = self._positive_probability(X)
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: Any) -> np.ndarray:
        """Real-valued score: the logit of the ensemble-mean probability of ``classes_[1]``.

        Positive means ``classes_[1]``; the order of events is that of ``predict_proba``
        except where the probability is within 1e-15 of 0 or 1 (clipped, so finite).
        """
        p = np.clip(self._positive_probability(X), _EPS, 1.0 - _EPS)
        return np.log(p) - np.log1p(-p)

    def predict(self, X: Any) -> np.ndarray:
        """Class label with the higher ensemble probability."""
        positive = self._positive_probability(X) > 0.5  # checks fitted state before classes_
        return self.classes_[positive.astype(np.intp)]
