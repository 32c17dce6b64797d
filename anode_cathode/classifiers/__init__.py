"""Classifiers used by every method: an MLP with an epoch ensemble and boosted-tree ensembles.

Both follow the scikit-learn estimator API (``fit`` / ``predict_proba`` / ``decision_function``,
``clone``, pickling) and take ``n_threads`` and ``random_state`` from the workflow rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator

from anode_cathode.classifiers.bdt import BACKENDS, BDTClassifier
from anode_cathode.classifiers.mlp import MLPClassifier
from anode_cathode.core import registry

__all__ = [
    "BACKENDS",
    "CLASSIFIERS",
    "BDTClassifier",
    "MLPClassifier",
    "classifier_params",
    "make_classifier",
]

#: Estimator class of every classifier kind of the registry.
CLASSIFIERS: dict[str, type[BaseEstimator]] = {
    kind: {"mlp": MLPClassifier, "bdt": BDTClassifier}[kind] for kind in registry.CLASSIFIERS
}
#: Parameters set by the workflow rule, not by the method's configuration.
_RULE_PARAMS = ("random_state", "n_threads", "device")


def classifier_params(cfg: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Estimator parameters of classifier ``kind`` from a run configuration.

    The MLP validates on the configured ``splits.val_fraction`` of its training set; the
    boosted trees have their own ``bdt.validation_fraction`` for early stopping.
    """
    if kind == "mlp":
        return {**cfg["mlp"], "validation_fraction": cfg["splits"]["val_fraction"]}
    return dict(cfg[kind])


def make_classifier(
    kind: str,
    params: Mapping[str, Any],
    *,
    random_state: int,
    n_threads: int,
    device: str = "auto",
) -> BaseEstimator:
    """Build an unfitted classifier of ``kind`` from configuration ``params``.

    Parameters
    ----------
    kind
        ``"mlp"`` or ``"bdt"``.
    params
        Constructor parameters (for example ``{"epochs": 20, "batch_size": 2048}``).
    random_state, n_threads
        Seed and thread count from the rule; they may not appear in ``params``.
    device
        Torch device for the MLP; boosted trees run on the CPU and ignore it.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or parameter, naming it and the valid choices.

    Examples
    --------
    >>> make_classifier("bdt", {"n_models": 2}, random_state=1, n_threads=1).n_models
    2
    """
    if kind not in CLASSIFIERS:
        raise ValueError(f"unknown classifier kind {kind!r}; valid choices: {sorted(CLASSIFIERS)}")
    cls = CLASSIFIERS[kind]
    valid = set(cls().get_params()) - set(_RULE_PARAMS)
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for classifier {kind!r}; valid: {sorted(valid)} "
            f"({', '.join(_RULE_PARAMS)} come from the rule)"
        )
    rule: dict[str, Any] = {"random_state": random_state, "n_threads": n_threads}
    if kind == "mlp":
        rule["device"] = device
    return cls(**dict(params), **rule)
