"""Classifiers used by every method: an MLP with an epoch ensemble and boosted-tree ensembles.

Both follow the scikit-learn estimator API (``fit`` / ``predict_proba`` / ``decision_function``,
``clone``, pickling) and take ``n_threads`` and ``random_state`` from the workflow rule.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from anode_cathode.core import registry

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from anode_cathode.classifiers.bdt import BACKENDS, BDTClassifier
    from anode_cathode.classifiers.mlp import MLPClassifier

__all__ = [
    "BACKENDS",
    "CLASSIFIERS",
    "BDTClassifier",
    "MLPClassifier",
    "classifier_params",
    "make_classifier",
]

#: Module and class of every classifier kind of the registry. Imported on first use, so that a
#: boosted-tree job does not pay for importing torch (about 0.8 s per job).
_CLASSES = {"mlp": ("mlp", "MLPClassifier"), "bdt": ("bdt", "BDTClassifier")}
_LAZY = {"MLPClassifier": "mlp", "BDTClassifier": "bdt", "BACKENDS": "bdt"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name == "CLASSIFIERS":  # estimator class of every classifier kind of the registry
        return {kind: _classifier_class(kind) for kind in registry.CLASSIFIERS}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _classifier_class(kind: str) -> type[BaseEstimator]:
    module, cls = _CLASSES[kind]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


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
    if kind not in registry.CLASSIFIERS:
        raise ValueError(
            f"unknown classifier kind {kind!r}; valid choices: {sorted(registry.CLASSIFIERS)}"
        )
    cls = _classifier_class(kind)
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
