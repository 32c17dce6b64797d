"""Data steps: generate, example ntuples, download, features, inject, split."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.config import config_hash
from anode_cathode.core.files import PathArg, write_json
from anode_cathode.data.io import read_attrs, read_tables, write_tables
from anode_cathode.data.regions import find_window, windows_from_config

__all__ = [
    "download",
    "example_ntuples",
    "features",
    "generate",
    "inject",
    "null_dataset",
    "smoothing_model",
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


def smoothing_model(
    cfg: Mapping[str, Any],
    dataset: PathArg,
    flow_out: PathArg,
    spectrum_out: PathArg,
    threads: int,
) -> None:
    """The smooth model of the observed data set's ``data`` (``dataset``: what the analysis
    sees, injected signal included) that ``calibration.pseudo_data: smoothed`` draws from:
    its m_JJ spectrum (:class:`~anode_cathode.bumphunt.smoothed.SmoothSpectrum`,
    ``spectrum_out``, JSON) and a conditional flow p(x | m_JJ) trained on all its events in the
    model's range (``flow_out``)."""
    from anode_cathode.bumphunt.smoothed import fit_spectrum, smoothing_range
    from anode_cathode.core.seeds import derive_seed
    from anode_cathode.density import flow_from_settings
    from anode_cathode.pipeline.density import flow_inputs

    events = read_tables(dataset)["data"]
    lo, hi = smoothing_range(cfg)
    events = events[(events["mjj"] >= lo) & (events["mjj"] < hi)]
    bh = cfg["bumphunt"]
    spectrum = fit_spectrum(
        events["mjj"].to_numpy(),
        tuple(bh["fit_range"]),
        (lo, hi),
        bh["bin_width"],
        bh["fit_model"],
        bh["alpha"],
    )
    cols = flow_inputs(cfg)
    flow = flow_from_settings(
        cfg["flow"],
        features=cols,
        random_state=derive_seed("smoothing_flow", cfg["calibration"]["seed"]),
        n_threads=threads,
        device=cfg["device"],
    )
    log.info("smoothing flow: %d data events in [%g, %g) TeV (%s)", len(events), lo, hi, cols)
    flow.fit(events[cols].to_numpy(), events["mjj"].to_numpy())
    flow.save(flow_out)
    write_json(spectrum_out, {"range": [lo, hi], "features": cols, **spectrum.to_dict()})


def _smoothed_events(
    smoothing: Sequence[PathArg],
    seed: int,
    mjj_range: tuple[float, float] | None = None,
    n: int | None = None,
) -> pd.DataFrame:
    """Events of the smooth model (flow file, spectrum JSON): as many as the data hold
    (Poisson), or ``n``, in ``mjj_range`` when given."""
    from anode_cathode.bumphunt.smoothed import SmoothSpectrum, smoothed_events
    from anode_cathode.density import ConditionalFlow

    flow_file, spectrum_file = smoothing
    saved = json.loads(Path(spectrum_file).read_text())
    spectrum = SmoothSpectrum.from_dict(saved)
    flow = ConditionalFlow.load(flow_file)
    return smoothed_events(flow, saved["features"], spectrum, seed, mjj_range, n)


def _smoothed_null_tables(
    cfg: Mapping[str, Any],
    index: int,
    observed: Mapping[str, pd.DataFrame],
    smoothing: Sequence[PathArg],
) -> dict[str, pd.DataFrame]:
    """Null data set ``index`` drawn from the smooth model of the ``observed`` data set: as
    many events (Poisson) as its data hold in the model's range, as many true-background
    events for the idealized detector as its ``extra`` table over the same m_JJ range, and its
    signal pool for the supervised baseline."""
    from anode_cathode.core.seeds import derive_seed
    from anode_cathode.data.pseudo import as_null_data_set

    cal_seed = cfg["calibration"]["seed"]
    seed = derive_seed("null_data", index, cal_seed)
    data = _smoothed_events(smoothing, seed)
    extra = observed["extra"]
    if len(extra):
        extra_range = (float(extra["mjj"].min()), float(np.nextafter(extra["mjj"].max(), 99)))
        extra_seed = derive_seed("null_extra", index, cal_seed)
        extra = _smoothed_events(smoothing, extra_seed, extra_range, n=len(extra))
    signal = observed["signal_pool"].assign(label=1.0)[[*data.columns]]
    return as_null_data_set(pd.concat([data, signal], ignore_index=True), extra, cfg, seed)


def null_dataset(
    cfg: Mapping[str, Any],
    index: int,
    out: PathArg,
    features_file: PathArg | None = None,
    smoothing: Sequence[PathArg] | None = None,
    observed: PathArg | None = None,
) -> None:
    """Background-only pseudo-data set ``index`` (:mod:`anode_cathode.data.pseudo`), written
    like an injected data set. ``features_file`` (the run's features) for the bootstrap of
    labelled input; for smoothed pseudo-data the smooth model (``smoothing``: flow, spectrum,
    from :func:`smoothing_model`) and the ``observed`` data set it models."""
    from anode_cathode.data.pseudo import KIND_LABELS, null_tables, pseudo_data_kind

    kind = pseudo_data_kind(cfg)
    if kind == "smoothed":
        if observed is None or smoothing is None:
            raise ValueError("smoothed pseudo-data need the observed data set and its model")
        tables = _smoothed_null_tables(cfg, index, read_tables(observed), smoothing)
    else:
        tables = null_tables(cfg, index, read_tables(features_file) if features_file else None)
    _check_windows_have_events(tables, cfg)
    attrs = {
        "config_hash": config_hash(cfg, "data", "splits", "calibration"),
        "injection": {"n_signal": 0, "s_over_b": None, "seed": None},
        "null_index": index,
        "pseudo_data": KIND_LABELS[kind],
        "folds": cfg["splits"]["folds"],
    }
    write_tables(out, tables, attrs)
    log.info("null data set %d: %d background events (%s)", index, len(tables["data"]), kind)


def spurious_sample(
    cfg: Mapping[str, Any],
    out: PathArg,
    features_file: PathArg | None = None,
    smoothing: Sequence[PathArg] | None = None,
    observed: PathArg | None = None,
) -> None:
    """The background-only sample for the spurious signal (:func:`~anode_cathode.data.pseudo.
    spurious_table`, or for smoothed pseudo-data ``calibration.spurious_factor`` times the
    observed data drawn from their smooth model), with a random fold per event."""
    from anode_cathode.bumphunt.smoothed import smoothing_range
    from anode_cathode.core.seeds import derive_seed
    from anode_cathode.data.pseudo import (
        KIND_LABELS,
        pseudo_data_kind,
        spurious_table,
        with_random_folds,
    )

    kind = pseudo_data_kind(cfg)
    if kind == "smoothed":
        if observed is None or smoothing is None:
            raise ValueError("smoothed pseudo-data need the observed data set and its model")
        data = read_tables(observed)["data"]
        lo, hi = smoothing_range(cfg)
        n_data = int(((data["mjj"] >= lo) & (data["mjj"] < hi)).sum())
        n = round(cfg["calibration"]["spurious_factor"] * n_data)
        cal_seed = cfg["calibration"]["seed"]
        folds = np.random.default_rng(derive_seed("spurious_folds", cal_seed))
        events = _smoothed_events(smoothing, derive_seed("spurious_sample", cal_seed), n=n)
        table = with_random_folds(events, cfg, folds)
    else:
        table = spurious_table(cfg, read_tables(features_file) if features_file else None)
    label = KIND_LABELS[kind] if kind != "bootstrap" else "the input's background (approximate)"
    write_tables(out, {"spurious": table}, {"sample": label})
    log.info("spurious-signal sample: %d background events (%s)", len(table), label)


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
