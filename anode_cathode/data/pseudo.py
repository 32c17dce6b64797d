"""Background-only pseudo-data for calibrating the bump hunt, and the spurious-signal sample.

A calibrated global p-value needs the whole chain (flows, samples, classifiers, folds, cuts,
fits) rerun on many data sets that look like the data without a signal. Where they come from
depends on the input:

* **built-in generator**: independent data sets, each from its own generator seed (exact);
* **labelled input** (LHCO, ROOT with a label): the background events of the input, resampled
  with Poisson(1) weights per event (bootstrap). There are far too few events for disjoint
  subsamples of the data's size (the LHCO file would give ~1 % of its background each), so the
  pseudo-data sets share events and are *approximate*: their spread is that of independent
  data sets only as far as the bootstrap reproduces it. Every copy of an event lands in the
  same fold, so no model scores a copy of an event it trained on;
* **smoothed data** (``calibration.pseudo_data: smoothed``, any input, and the only choice for
  unlabelled data): independent draws from a smooth model of the data, m_JJ from the dijet
  function fitted to the whole spectrum and the features from a conditional flow trained on
  all data (:mod:`anode_cathode.bumphunt.smoothed`); *approximate*, since the model is fitted
  to data that may hold a signal and has its own mismodelling.

The spurious-signal sample is a large background-only sample, independent of the data where
possible (built-in: fresh events, ``calibration.spurious_factor`` times the data's
background; labelled input: the input's background, which the data contain, flagged
approximate). Its events get random folds: the model of fold f scores the events of fold f.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.core.files import PathArg
from anode_cathode.core.seeds import derive_seed
from anode_cathode.data.io import read_table
from anode_cathode.data.selection import select_events
from anode_cathode.data.splits import assign_folds, inject_signal

__all__ = [
    "KIND_LABELS",
    "as_null_data_set",
    "is_exact",
    "null_tables",
    "pseudo_data_kind",
    "read_spurious",
    "spurious_table",
    "with_random_folds",
]

log = logging.getLogger(__name__)


#: How each kind of pseudo-data is described in the outputs.
KIND_LABELS = {
    "generator": "independent generator data sets",
    "bootstrap": "bootstrap resamplings of the input's background (approximate: they share events)",
    "smoothed": "draws from a flow and a fitted spectrum of the data (approximate: the model "
    "of the data, signal and mismodelling included, stands in for the background)",
}


def pseudo_data_kind(cfg: Mapping[str, Any]) -> str:
    """``generator`` (built-in data), ``bootstrap`` (labelled input) or ``smoothed``, from
    ``calibration.pseudo_data`` (``auto`` picks the first two by the input)."""
    kind = cfg["calibration"]["pseudo_data"]
    if kind == "auto":
        return "generator" if cfg["data"]["source"] == "builtin" else "bootstrap"
    if kind == "generator" and cfg["data"]["source"] != "builtin":
        raise ValueError(
            "calibration.pseudo_data: generator needs data.source: builtin; use bootstrap or "
            "smoothed for other inputs"
        )
    return kind


def is_exact(cfg: Mapping[str, Any]) -> bool:
    """Whether the pseudo-data are independent data sets of the true background (built-in
    generator) rather than an approximation (bootstrap, smoothed)."""
    return pseudo_data_kind(cfg) == "generator"


def as_null_data_set(
    events: pd.DataFrame, extra: pd.DataFrame, cfg: Mapping[str, Any], seed: int
) -> dict[str, pd.DataFrame]:
    """``data`` (the background of ``events``, with folds), ``signal_pool`` (their signal) and
    ``extra``: what :func:`~anode_cathode.data.splits.inject_signal` gives with no injection."""
    null_cfg = {**cfg, "injection": {"n_signal": 0, "s_over_b": None, "seed": seed % 100_000}}
    return inject_signal(events, extra, null_cfg, _reference_window(cfg))


def _check_labelled(events: pd.DataFrame, source: str) -> None:
    if "label" not in events or not (events["label"] == 0).any():
        raise ValueError(
            f"calibration needs background-only pseudo-data, but the {source} input has no "
            "labelled background (label 0); use data.source: builtin, an input with a label "
            "column (data.root.label for ROOT ntuples), or calibration.pseudo_data: smoothed"
        )


def _builtin_events(cfg: Mapping[str, Any], n_bkg: int, n_sig: int, seed: int) -> pd.DataFrame:
    from anode_cathode.data.features import compute_features
    from anode_cathode.data.generate import GeneratorParams, generate_events

    params = GeneratorParams.from_dict(cfg["data"]["builtin"]["params"])
    raw = select_events(generate_events(n_bkg, n_sig, seed, params), cfg["data"]["max_delta_y"])
    return compute_features(raw, source="generator")


def null_tables(
    cfg: Mapping[str, Any], index: int, features: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """Background-only data set number ``index``: ``data`` (with ``fold``), ``signal_pool``
    and ``extra`` (true background), as :func:`~anode_cathode.data.splits.inject_signal`
    returns them.

    Parameters
    ----------
    cfg
        The run configuration (``data``, ``splits``, ``calibration``).
    index
        Number of the pseudo-data set; each has its own random stream.
    features
        The run's feature tables (``events``, ``extra``): needed for labelled input, unused
        for the built-in generator.
    """
    seed = derive_seed("null_data", index, cfg["calibration"]["seed"])
    kind = pseudo_data_kind(cfg)
    if kind == "smoothed":
        raise ValueError(
            "smoothed pseudo-data are drawn by anode_cathode.pipeline.data.null_dataset"
        )
    if kind == "generator":
        from anode_cathode.data.features import compute_features
        from anode_cathode.data.generate import GeneratorParams, generate_extra_background

        b = cfg["data"]["builtin"]
        events = _builtin_events(cfg, b["n_background"], b["n_signal"], seed)
        raw_extra = generate_extra_background(
            b["n_extra_background"],
            derive_seed("null_extra", index, cfg["calibration"]["seed"]),
            tuple(b["extra_mjj_range"]),
            GeneratorParams.from_dict(b["params"]),
        )
        extra = compute_features(
            select_events(raw_extra, cfg["data"]["max_delta_y"]), source="generator"
        )
        extra["label"] = 0.0
        return as_null_data_set(events, extra, cfg, seed)
    if features is None:
        raise ValueError("labelled input: null_tables needs the run's feature tables")
    return _bootstrap(features["events"], features["extra"], cfg, np.random.default_rng(seed))


def _reference_window(cfg: Mapping[str, Any]):
    from anode_cathode.data.regions import windows_from_config

    return windows_from_config({**cfg, "windows": {**cfg["windows"], "scan": None}})[0]


def _bootstrap(
    events: pd.DataFrame, extra: pd.DataFrame, cfg: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Poisson(1) bootstrap of the input's background; copies of an event share a fold."""
    _check_labelled(events, cfg["data"]["source"])
    is_sig = events["label"].to_numpy() == 1
    bkg, sig = events[~is_sig], events[is_sig]
    if len(extra) == 0:  # hold out true background as inject_signal does, before resampling
        hold = rng.random(len(bkg)) < cfg["data"]["holdout_background_fraction"]
        extra, bkg = bkg[hold], bkg[~hold]
    copies = rng.poisson(1.0, len(bkg))
    rows = np.repeat(np.arange(len(bkg)), copies)
    folds = assign_folds(len(bkg), cfg["splits"]["folds"], int(rng.integers(2**31)))
    data = bkg.iloc[rows].assign(fold=folds[rows])
    data = data.iloc[rng.permutation(len(data))].reset_index(drop=True)
    log.info("bootstrap: %d background events resampled to %d", len(bkg), len(data))
    return {
        "data": data,
        "signal_pool": sig.reset_index(drop=True),
        "extra": extra.reset_index(drop=True),
    }


def spurious_table(
    cfg: Mapping[str, Any], features: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """The background-only sample for the spurious signal, with a random ``fold`` per event."""
    cal = cfg["calibration"]
    rng = np.random.default_rng(derive_seed("spurious_sample", cal["seed"]))
    kind = pseudo_data_kind(cfg)
    if kind == "smoothed":
        raise ValueError(
            "the smoothed spurious sample is drawn by anode_cathode.pipeline.data.spurious_sample"
        )
    if kind == "generator":
        n = round(cal["spurious_factor"] * cfg["data"]["builtin"]["n_background"])
        table = _builtin_events(cfg, n, 0, derive_seed("spurious_events", cal["seed"]))
    else:
        if features is None:
            raise ValueError("labelled input: spurious_table needs the run's feature tables")
        events = features["events"]
        _check_labelled(events, cfg["data"]["source"])
        table = events[events["label"].to_numpy() == 0].reset_index(drop=True)
    table = table[table["label"].to_numpy() == 0].reset_index(drop=True)
    return with_random_folds(table, cfg, rng)


def with_random_folds(
    table: pd.DataFrame, cfg: Mapping[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """The spurious-signal sample with a random ``fold`` per event (fold f is scored by the
    model that did not train on fold f)."""
    table = table.copy()
    table["fold"] = rng.integers(0, cfg["splits"]["folds"], len(table)).astype(np.int8)
    return table


def read_spurious(path: PathArg, features: Sequence[str], window: Any) -> pd.DataFrame:
    """The events of the spurious-signal sample in ``window``'s m_JJ range (features, mjj, fold)."""
    columns = list(dict.fromkeys([*features, "mjj", "fold"]))
    sample = read_table(path, "spurious", columns)
    return sample[window.in_range(sample["mjj"].to_numpy())]
