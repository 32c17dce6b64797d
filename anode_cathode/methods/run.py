"""Train a method's classifier per fold and score the test set and the data."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.core.registry import METHODS, classifier_methods
from anode_cathode.core.seeds import derive_seed
from anode_cathode.data.regions import Window

__all__ = ["fit_and_score", "training_set_builder"]

log = logging.getLogger(__name__)


def training_set_builder(method: str) -> Callable[..., tuple[Any, Any, Any]]:
    """``training_set(tables, window, features, keep)`` of a classifier-based method: the
    function of the same name in ``anode_cathode.methods.<method>``."""
    if method not in classifier_methods():
        raise ValueError(
            f"unknown classifier-based method {method!r}; valid: {classifier_methods()}"
        )
    return importlib.import_module(f"anode_cathode.methods.{method}").training_set


def _score(clf: Any, X: np.ndarray) -> np.ndarray:
    return clf.predict_proba(X)[:, 1]


def _inputs_builder(
    method: str,
    tables: Mapping[str, Any],
    window: Window,
    features: Sequence[str],
    options: Mapping[str, Any] | None,
) -> Callable[[pd.DataFrame], np.ndarray]:
    """How the method turns a table into classifier inputs: its module's ``input_builder``
    (with its options) where it has one, else the feature columns as they are."""
    module = importlib.import_module(f"anode_cathode.methods.{method}")
    build = getattr(module, "input_builder", None)
    if build is None:
        return lambda table: table[list(features)].to_numpy()
    return build(tables, window, features, **(options or {}))


def _model_tables(
    tables: Mapping[str, Any], model: int, n_models: int
) -> Mapping[str, pd.DataFrame]:
    """The tables model ``model`` trains on: CATHODE samples may come as one set per fold, each
    drawn from the SB flow that did not see that fold."""
    samples = tables.get("samples")
    if not isinstance(samples, list | tuple):
        return tables
    if len(samples) != n_models:
        raise ValueError(
            f"{len(samples)} sets of CATHODE samples for {n_models} models: need one per fold "
            "(splits.folds) or a single set"
        )
    return {**tables, "samples": samples[model]}


def fit_and_score(
    method: str,
    tables: Mapping[str, Any],
    window: Window,
    features: Sequence[str],
    make_classifier: Callable[[int], Any],
    folds: int,
    seed: int,
    score_data: bool = True,
    method_options: Mapping[str, Any] | None = None,
    stream_key: Sequence[int | str] = (),
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Train ``method`` on one window and score held-out events.

    With ``folds`` k >= 2 and a method that trains on data, model f trains on data events of
    the other folds and alone scores the events of fold f; the test set gets the mean score of
    the k models. Methods that never train on data use one model for everything.

    Parameters
    ----------
    tables
        ``data``, ``test`` and what the method needs (``extra_train``; ``samples``: one table,
        or a list with the samples of model f at position f).
    make_classifier
        Called with a seed, returns an unfitted estimator with ``fit(X, y, sample_weight)``
        and ``predict_proba``.
    seed
        The configured training seed; model f gets the independent stream
        ``derive_seed("classifier", window, method, f, seed, *stream_key)``.
    score_data
        Score the data events too (the bump hunt's input); ``False`` skips them (the
        evaluation needs the test set only, and scoring the whole spectrum costs as much as
        training a BDT).
    stream_key
        Extra key of the classifier streams (the data set's replica,
        :func:`~anode_cathode.core.seeds.replica_key`).
    method_options
        Keyword arguments of the method's ``training_set`` (its configuration section, e.g.
        ``cwola.mass_matched``).

    Returns
    -------
    tables, info
        ``test`` (score, label, mjj) and, when every data event could be scored by a model
        that did not train on it, ``data`` (score, mjj, fold, label) and, if ``tables`` has an
        independent background sample ``spurious`` (with a random ``fold``), its scores by
        the model of each event's fold; ``info`` holds counts and timings per model.
    """
    training_set = training_set_builder(method)
    uses_data = METHODS[method].uses_data
    data, test = tables["data"], tables["test"]
    # an independent background sample for the spurious-signal measurement (calibration)
    spurious = tables.get("spurious") if score_data else None
    spurious_score = None if spurious is None else np.full(len(spurious), np.nan)
    cols = list(features)
    inputs = _inputs_builder(method, tables, window, cols, method_options)
    x_test = inputs(test)
    n_models = folds if (uses_data and folds > 1) else 1
    test_score = np.zeros(len(test))
    data_score = np.full(len(data), np.nan)
    info: dict[str, Any] = {"models": []}
    fold = data["fold"].to_numpy()
    for f in range(n_models):
        keep = fold != f if n_models > 1 else np.ones(len(data), dtype=bool)
        X, y, w = training_set(
            _model_tables(tables, f, n_models), window, cols, keep, **(method_options or {})
        )
        t0 = time.perf_counter()
        clf = make_classifier(derive_seed("classifier", window.name, method, f, seed, *stream_key))
        clf.fit(X, y, sample_weight=w)
        test_score += _score(clf, x_test) / n_models
        if score_data and n_models > 1:
            data_score[fold == f] = _score(clf, inputs(data.loc[fold == f]))
        elif score_data and not uses_data:
            data_score = _score(clf, inputs(data))
        if spurious_score is not None:  # its events carry a random fold: model f scores fold f
            mine = (spurious["fold"].to_numpy() == f) if n_models > 1 else slice(None)
            spurious_score[mine] = _score(clf, inputs(spurious.loc[mine]))
        seconds = time.perf_counter() - t0
        info["models"].append(
            {
                "fold": f,
                "n_class1": int(y.sum()),
                "n_class0": int(len(y) - y.sum()),
                "seconds": seconds,
            }
        )
        log.info(
            "%s model %d/%d: %d vs %d events, %.1f s",
            method,
            f + 1,
            n_models,
            int(y.sum()),
            int(len(y) - y.sum()),
            seconds,
        )
    out = {
        "test": pd.DataFrame(
            {"score": test_score, "label": test["label"].to_numpy(), "mjj": test["mjj"].to_numpy()}
        )
    }
    if score_data and not np.isnan(data_score).any():
        out["data"] = pd.DataFrame(
            {
                "score": data_score,
                "mjj": data["mjj"].to_numpy(),
                "fold": fold,
                "label": data["label"].to_numpy(),
            }
        )
        if spurious_score is not None and not np.isnan(spurious_score).any():
            out["spurious"] = pd.DataFrame(
                {
                    "score": spurious_score,
                    "mjj": spurious["mjj"].to_numpy(),
                    "fold": spurious["fold"].to_numpy(),
                }
            )
    return out, info
