"""Data steps: generate, example ntuples, download, features, inject, split."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from anode_cathode.config import config_hash
from anode_cathode.core.files import PathArg
from anode_cathode.data.io import read_attrs, read_tables, write_tables
from anode_cathode.data.regions import find_window, windows_from_config

__all__ = [
    "download",
    "example_ntuples",
    "features",
    "generate",
    "inject",
    "null_dataset",
    "split",
    "spurious_sample",
]

log = logging.getLogger(__name__)


def _generate(cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Built-in events and extra background as configured in ``data.builtin``."""
    from anode_cathode.data.generate import (
        GeneratorParams,
        generate_events,
        generate_extra_background,
    )

    b = cfg["data"]["builtin"]
    params = GeneratorParams.from_dict(b["params"])
    events = generate_events(b["n_background"], b["n_signal"], b["seed"], params)
    extra = generate_extra_background(
        b["n_extra_background"], b["seed"], tuple(b["extra_mjj_range"]), params
    )
    return events, extra


def generate(cfg: Mapping[str, Any], events: PathArg, extra: PathArg) -> None:
    """Write the built-in events and extra background as LHCO-format HDF5 files."""
    from anode_cathode.data.lhco import write_lhco

    ev, ex = _generate(cfg)
    write_lhco(ev, events)
    write_lhco(ex, extra)
    log.info(
        "wrote %d events to %s and %d extra background events to %s",
        len(ev),
        events,
        len(ex),
        extra,
    )


def example_ntuples(cfg: Mapping[str, Any], out_dir: PathArg, n_files: int) -> None:
    """Write the built-in events as NanoAOD-like ROOT files (for the ROOT example config)."""
    from anode_cathode.data.example_ntuples import write_example_ntuples

    ev, ex = _generate(cfg)
    write_example_ntuples(ev, out_dir, n_files=n_files, prefix="events")
    write_example_ntuples(ex, out_dir, n_files=1, prefix="extra")


def download(url: str, dest: PathArg, md5: str | None, timeout: float) -> None:
    """Fetch ``url`` to ``dest`` and verify its MD5 checksum when given."""
    from anode_cathode.data.download import fetch

    fetch(url, dest, md5=md5 or None, timeout=timeout, progress=False)


def features(
    cfg: Mapping[str, Any], events: PathArg | None, extra: PathArg | None, out: PathArg
) -> None:
    """Read the configured input and write the feature tables."""
    from anode_cathode.data.inputs import read_inputs

    tables = read_inputs(cfg, events, extra or None)
    attrs = {"config_hash": config_hash(cfg, "data"), "source": cfg["data"]["source"]}
    write_tables(out, tables, attrs)


def inject(cfg: Mapping[str, Any], features_file: PathArg, out: PathArg) -> None:
    """Inject signal, hold out true background and assign folds."""
    from anode_cathode.data.splits import inject_signal

    tables = read_tables(features_file)
    reference = windows_from_config({**cfg, "windows": {**cfg["windows"], "scan": None}})[0]
    tables = inject_signal(tables["events"], tables["extra"], cfg, reference)
    _check_windows_have_events(tables, cfg)
    attrs = {
        "config_hash": config_hash(cfg, "data", "injection", "splits"),
        "injection": cfg["injection"],
        "folds": cfg["splits"]["folds"],
    }
    write_tables(out, tables, attrs)


def null_dataset(
    cfg: Mapping[str, Any], index: int, out: PathArg, features_file: PathArg | None = None
) -> None:
    """Background-only pseudo-data set ``index`` (:mod:`anode_cathode.data.pseudo`), written
    like an injected data set; ``features_file`` (the run's features) for labelled input."""
    from anode_cathode.data.pseudo import is_exact, null_tables

    features_tables = read_tables(features_file) if features_file else None
    tables = null_tables(cfg, index, features_tables)
    _check_windows_have_events(tables, cfg)
    attrs = {
        "config_hash": config_hash(cfg, "data", "splits", "calibration"),
        "injection": {"n_signal": 0, "s_over_b": None, "seed": None},
        "null_index": index,
        "pseudo_data": "independent" if is_exact(cfg) else "bootstrap (approximate)",
        "folds": cfg["splits"]["folds"],
    }
    write_tables(out, tables, attrs)
    log.info("null data set %d: %d background events", index, len(tables["data"]))


def spurious_sample(
    cfg: Mapping[str, Any], out: PathArg, features_file: PathArg | None = None
) -> None:
    """The background-only sample for the spurious signal (:func:`~anode_cathode.data.pseudo.
    spurious_table`), with a random fold per event."""
    from anode_cathode.data.pseudo import is_exact, spurious_table

    features_tables = read_tables(features_file) if features_file else None
    table = spurious_table(cfg, features_tables)
    independent = "independent" if is_exact(cfg) else "the input's background (approximate)"
    write_tables(out, {"spurious": table}, {"sample": independent})
    log.info("spurious-signal sample: %d background events (%s)", len(table), independent)


#: The config key that supplies true background in the signal regions, per input source.
_EXTRA_KEY = {
    "builtin": "widen data.builtin.extra_mjj_range (or raise data.builtin.n_extra_background)",
    "lhco": "set data.lhco.extra_background to the inner-only background file, or "
    "data.lhco.extra_background: null to hold out part of the data's background",
    "root": "add files covering it to data.root.extra_background_files, or leave that list "
    "empty to hold out part of the data's background",
}


def _check_windows_have_events(tables: Mapping[str, pd.DataFrame], cfg: Mapping[str, Any]) -> None:
    """Fail before any training if a window lacks true background or signal for evaluation."""
    source = cfg["data"]["source"]
    for window in windows_from_config(cfg):
        extra_sr = int(window.in_sr(tables["extra"]["mjj"].to_numpy()).sum())
        if extra_sr < 2:
            raise ValueError(
                f"window {window.name}: no true background in the signal region "
                f"[{window.sr_lo}, {window.sr_hi}) TeV for the idealized detector and the test "
                f"set; {_EXTRA_KEY[source]}"
            )
        signal_sr = int(window.in_sr(tables["signal_pool"]["mjj"].to_numpy()).sum())
        data = tables["data"]
        signal_sr += int(((data["label"] == 1) & window.in_sr(data["mjj"].to_numpy())).sum())
        if signal_sr == 0:
            raise ValueError(
                f"the input has no signal events (label 1) in window {window.name}: the "
                "supervised baseline and the SIC/ROC evaluation need labelled signal in every "
                "signal region; use an input with signal (label column / data.root.label)"
            )


def split(cfg: Mapping[str, Any], window_name: str, dataset: PathArg, out: PathArg) -> None:
    """Write the tables of one window: data, training and test sets."""
    from anode_cathode.data.splits import split_window

    window = find_window(cfg, window_name)
    tables = split_window(read_tables(dataset), window, cfg["splits"])
    attrs = dict(read_attrs(dataset))
    attrs.update({"window": window.to_dict(), "window_name": window.name})
    write_tables(out, tables, attrs)
