"""Ensembles of boosted decision trees ("Back to the roots", arXiv:2309.13111).

Each member is a gradient-boosted tree model with its own seed and its own early-stopping
validation split, trained only on the data passed to :meth:`BDTClassifier.fit` (never on a
larger table than the training split: see docs/methods.md). Predictions average member
probabilities.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from anode_cathode.classifiers.base import ProbabilityMixin
from anode_cathode.core.device import openmp_threads
from anode_cathode.core.validation import (
    balanced_sample_weight,
    check_features,
    check_sample_weight,
    encode_binary_target,
)

__all__ = ["BACKENDS", "BDTClassifier"]

#: Valid values of ``BDTClassifier(backend=...)``.
BACKENDS = ("hgb", "xgboost")
logger = logging.getLogger(__name__)

#: Boosting rounds without improvement of the validation loss before stopping (sklearn default).
_PATIENCE = 10


class BDTClassifier(ProbabilityMixin, ClassifierMixin, BaseEstimator):
    """Mean of ``n_models`` boosted-tree classifiers with different seeds and validation splits.

    Parameters
    ----------
    backend
        ``"hgb"`` (:class:`sklearn.ensemble.HistGradientBoostingClassifier`) or ``"xgboost"``
        (:class:`xgboost.XGBClassifier`, hist method, leaf-wise growth with ``max_leaves``).
    n_models
        Number of ensemble members.
    max_iter, max_leaf_nodes, learning_rate
        Boosting rounds, leaves per tree and shrinkage of every member.
    validation_fraction, early_stopping
        With early stopping each member holds out its own stratified ``validation_fraction``
        and stops after 10 rounds without improvement of the weighted validation log-loss.
        Without early stopping members see the same data and differ little (hgb subsamples
        for binning above 200k rows; xgboost is deterministic).
    class_weight
        ``"balanced"`` (equal total weight per class, honouring ``sample_weight``) or ``None``.
    n_threads
        Threads per member (xgboost ``n_jobs``; OpenMP limit for hgb). ``None``: library default.
    random_state
        Seed from which one seed per member is drawn.

    Attributes
    ----------
    estimators_
        The fitted members.
    classes_, n_features_in_
        Class labels and number of input features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-1, 1, (500, 2)), rng.normal(1, 1, (500, 2))]
    >>> y = np.r_[np.zeros(500), np.ones(500)]
    >>> clf = BDTClassifier(n_models=2, max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, len(clf.estimators_)
    ((1000, 2), 2)
    """

    def __init__(
        self,
        backend: str = "hgb",
        n_models: int = 10,
        max_iter: int = 200,
        max_leaf_nodes: int = 31,
        learning_rate: float = 0.1,
        validation_fraction: float = 0.5,
        early_stopping: bool = True,
        class_weight: str | None = "balanced",
        n_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.backend = backend
        self.n_models = n_models
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # both backends treat NaN as missing values
        tags.classifier_tags.multi_class = False
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"allow_nan": True, "binary_only": True}

    def _check_params(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; valid choices: {list(BACKENDS)}")
        for name in ("n_models", "max_iter"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if int(self.max_leaf_nodes) < 2:
            raise ValueError(f"max_leaf_nodes must be at least 2, got {self.max_leaf_nodes}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.early_stopping and not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )
        if self.class_weight not in ("balanced", None):
            raise ValueError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BDTClassifier:
        """Fit ``n_models`` members on ``(X, y)`` only; rows with zero weight are dropped first."""
        self._check_params()
        X = check_features(X, allow_nan=True)
        self.classes_, y01 = encode_binary_target(y)
        if y01.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y01.shape[0]}")
        w = check_sample_weight(sample_weight, X.shape[0])
        self.n_features_in_ = X.shape[1]
        keep = w > 0
        X, y01, w = X[keep], y01[keep].astype(np.int64), w[keep]
        if self.class_weight == "balanced":
            w = balanced_sample_weight(y01, w)
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=int(self.n_models))
        fit_member = self._fit_hgb if self.backend == "hgb" else self._fit_xgboost
        self.estimators_ = []
        member_s: list[float] = []
        bar = tqdm(total=len(seeds), desc="BDT", unit="member", disable=not sys.stderr.isatty())
        try:
            with openmp_threads(self.n_threads):
                for seed in seeds:
                    t0 = time.perf_counter()
                    self.estimators_.append(fit_member(X, y01, w, int(seed)))
                    member_s.append(time.perf_counter() - t0)
                    logger.info("BDT %s", _member_line(self.estimators_[-1], len(seeds), member_s))
                    bar.update()
        finally:
            bar.close()
        return self

    def _fit_hgb(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> Any:
        model = HistGradientBoostingClassifier(
            learning_rate=float(self.learning_rate),
            max_iter=int(self.max_iter),
            max_leaf_nodes=int(self.max_leaf_nodes),
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            n_iter_no_change=_PATIENCE,
            random_state=seed,
        )
        return model.fit(X, y, sample_weight=w)

    def _fit_xgboost(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> Any:
        from xgboost import XGBClassifier

        model = XGBClassifier(
            n_estimators=int(self.max_iter),
            learning_rate=float(self.learning_rate),
            tree_method="hist",
            grow_policy="lossguide",
            max_leaves=int(self.max_leaf_nodes),
            max_depth=0,  # no depth limit: leaf-wise growth bounded by max_leaves, as in hgb
            max_bin=255,
            objective="binary:logistic",
            eval_metric="logloss",
            early_stopping_rounds=_PATIENCE if self.early_stopping else None,
            n_jobs=self.n_threads,
            random_state=seed,
        )
        if not self.early_stopping:
            return model.fit(X, y, sample_weight=w, verbose=False)
        idx_tr, idx_val = train_test_split(
            np.arange(X.shape[0]),
            test_size=float(self.validation_fraction),
            stratify=y,
            random_state=seed,
        )
        return model.fit(
            X[idx_tr],
            y[idx_tr],
            sample_weight=w[idx_tr],
            eval_set=[(X[idx_val], y[idx_val])],
            sample_weight_eval_set=[w[idx_val]],
            verbose=False,
        )

    def _positive_probability(self, X: Any) -> np.ndarray:
        """Mean positive-class probability of the members, shape ``(N,)``, in [0, 1]."""
        check_is_fitted(self, ("estimators_", "classes_"))
        X = check_features(
            X, allow_nan=True, n_features=self.n_features_in_, owner=type(self).__name__
        )
        out = np.zeros(X.shape[0], dtype=np.float64)
        with openmp_threads(self.n_threads):
            for model in self.estimators_:
                out += model.predict_proba(X)[:, 1]
        return out / len(self.estimators_)


def _member_line(model: Any, n_members: int, member_s: list[float]) -> str:
    """One progress line after a member: rounds, validation loss, time and time left."""
    done = len(member_s)
    if hasattr(model, "n_iter_"):  # hgb; validation_score_ holds minus the log-loss
        rounds = int(model.n_iter_)
        scores = getattr(model, "validation_score_", np.empty(0))
        val = f"{-float(scores[-1]):.4f}" if len(scores) else "n/a"
    else:  # xgboost: the validation set exists only with early stopping
        rounds = int(model.get_booster().num_boosted_rounds())
        history = model.evals_result().get("validation_0", {}).get("logloss", [])
        val = f"{min(history):.4f}" if history else "n/a"
    left = (n_members - done) * float(np.mean(member_s))
    return (
        f"member {done}/{n_members}  {rounds} rounds  val loss {val}  "
        f"({member_s[-1]:.2f} s, ~{left:.0f} s left)"
    )
