"""Density steps: train a flow (SB or SR), draw CATHODE samples, flow diagnostics, ANODE scores.

Random streams: every flow, sample set and diagnostic has its own seed from
:func:`~anode_cathode.core.seeds.derive_seed`, named by purpose, window, fold and configured
seed, so no two of them share a random state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.config import config_hash, sr_flow_config
from anode_cathode.core.files import PathArg, write_json
from anode_cathode.core.registry import DENSITY
from anode_cathode.core.seeds import derive_seed, replica_key
from anode_cathode.data.io import read_attrs, read_tables, write_csv, write_tables
from anode_cathode.data.pseudo import read_spurious
from anode_cathode.data.regions import Window

__all__ = ["flow_diagnostics", "flow_inputs", "sample", "score_anode", "train_flows"]

log = logging.getLogger(__name__)


def flow_inputs(cfg: Mapping[str, Any]) -> list[str]:
    """Flow features: the classifier inputs without mjj (mjj is the condition)."""
    return [c for c in cfg["features"] if c != "mjj"]


def _window(split_file: PathArg) -> Window:
    return Window.from_dict(read_attrs(split_file)["window"])


def _flow_jobs(
    region: str, folds: Sequence[int], seeds: Sequence[int], outs: Sequence[PathArg]
) -> list[tuple[int, int, PathArg]]:
    """(fold, seed, output) of every flow one job trains: the SB flows one per fold, the SR
    flows one per seed and fold, seed after seed (the order of ``outs``)."""
    pairs = [(f, 0) for f in folds] if region == "sb" else [(f, s) for s in seeds for f in folds]
    if len(outs) != len(pairs):
        what = "fold" if region == "sb" else "(seed, fold)"
        raise ValueError(
            f"train-flow: {len(outs)} output files for {len(pairs)} {region.upper()} flows: "
            f"give one --out per {what}"
        )
    return [(f, s, out) for (f, s), out in zip(pairs, outs, strict=True)]


def train_flows(
    cfg: Mapping[str, Any],
    split_file: PathArg,
    region: str,
    folds: Sequence[int],
    seeds: Sequence[int],
    outs: Sequence[PathArg],
    threads: int,
    samples: Sequence[PathArg] | None = None,
) -> None:
    """Train the ``region`` ("sb" or "sr") flows of ``folds`` and save each with its losses.

    One process trains all flows of a window (the split is read once, the start-up paid once).
    The sideband flows' seed is ``flow.seed``; signal-region flows (ANODE) have one per
    training seed, and ``outs`` lists them seed after seed, the folds of each in order. With
    ``samples`` (SB flows only, one file per fold) each flow also draws its CATHODE samples
    right after training, as :func:`sample` would from the saved model.
    """
    from anode_cathode.density import flow_from_settings
    from anode_cathode.methods.anode import flow_training_data

    jobs = _flow_jobs(region, folds, seeds, outs)
    if samples is not None and (region != "sb" or len(samples) != len(jobs)):
        raise ValueError(
            f"train-flow: --samples needs --region sb and one file per fold; got {len(samples)} "
            f"for {len(jobs)} {region.upper()} flows"
        )
    window = _window(split_file)
    injection = read_attrs(split_file).get("injection")
    data = read_tables(split_file)["data"]
    cols = flow_inputs(cfg)

    def replica(step: str) -> tuple:
        return replica_key(injection, step, cfg["bands"]["vary"])

    for i, (fold, seed, out) in enumerate(jobs):
        X, m = flow_training_data(data, window, cols, region, fold, cfg["splits"]["folds"])
        if region == "sb":
            settings = cfg["flow"]
            random_state = derive_seed(
                "sb_flow", window.name, fold, settings["seed"], *replica("flow")
            )
        else:
            settings = sr_flow_config(cfg)
            random_state = derive_seed("sr_flow", window.name, fold, seed, *replica("flow"))
        if len(X) < 100:
            raise ValueError(
                f"{window.name}: only {len(X)} {region.upper()} events to train a flow"
            )
        log.info(
            "%s: training the %s flow of fold %d%s on %d events (%s)",
            window.name,
            region.upper(),
            fold,
            "" if region == "sb" else f", seed {seed}",
            len(X),
            ", ".join(cols),
        )
        flow = flow_from_settings(
            settings,
            features=cols,
            random_state=random_state,
            n_threads=threads,
            device=cfg["device"],
        )
        _check_physical_bounds(X, cols, flow.lower_bounds, window)
        flow.fit(X, m)
        flow.save(out)  # atomic: a killed job leaves no partial model.pt
        losses = pd.DataFrame(
            {
                "epoch": range(1, len(flow.train_losses_) + 1),
                "train_loss": flow.train_losses_,
                "val_loss": flow.val_losses_,
                "seconds": flow.epoch_times_,
            }
        )
        write_csv(losses, Path(out).with_suffix(".losses.csv"), float_format=None)
        log.info(
            "best epochs %s, %.1f s per epoch on %s",
            [int(e) + 1 for e in flow.best_epochs_],
            losses.seconds.mean(),
            flow.device_,
        )
        if samples is not None:
            _write_samples(cfg, flow, data, window, fold, samples[i], injection)


def _check_physical_bounds(
    X: np.ndarray, cols: Sequence[str], bounds: Sequence[float | None] | None, window: Window
) -> None:
    """The flow's own check of its lower bounds, with the feature and the fix named."""
    for name, values, bound in zip(cols, X.T, bounds or [None] * len(cols), strict=True):
        if bound is not None and np.nanmin(values) < bound:
            raise ValueError(
                f"{window.name}: feature {name} has values down to {np.nanmin(values):g}, below "
                f"its physical bound {bound:g}; check how the input computes it, or set "
                "flow.physical_bounds: false to bound the flow by the data instead"
            )


def _write_samples(
    cfg: Mapping[str, Any],
    flow: Any,
    data: pd.DataFrame,
    window: Window,
    fold: int,
    out: PathArg,
    injection: Mapping[str, Any] | None,
) -> None:
    """Draw the CATHODE samples of ``fold`` from its SB flow and write them to ``out``
    (``injection``: the data set's, whose seed can select the sampling stream)."""
    from anode_cathode.methods.cathode import draw_samples

    if cfg["splits"]["folds"] > 1:  # the masses and the number of the classifier's SR events
        data = data[data["fold"].to_numpy() != fold]
    c = cfg["cathode"]
    drawn = draw_samples(
        flow,
        data,
        window,
        flow_inputs(cfg),
        c["oversampling"],
        c["kde_bandwidth"],
        seed=derive_seed(
            "cathode_samples",
            window.name,
            fold,
            cfg["flow"]["seed"],
            *replica_key(injection, "sampling", cfg["bands"]["vary"]),
        ),
    )
    write_tables(
        out,
        {"samples": drawn},
        {
            "window": window.to_dict(),
            "fold": fold,
            "config_hash": config_hash(cfg, "flow", "cathode", "splits"),
        },
    )


def sample(
    cfg: Mapping[str, Any],
    split_file: PathArg,
    flow_files: Sequence[PathArg],
    folds: Sequence[int],
    outs: Sequence[PathArg],
) -> None:
    """CATHODE background samples in the SR, one file per fold from that fold's saved SB flow
    (the workflow draws them in :func:`train_flows`; this redraws them from the models)."""
    from anode_cathode.density import ConditionalFlow

    if not len(flow_files) == len(folds) == len(outs):
        raise ValueError(
            f"sample: {len(flow_files)} flows, {len(folds)} folds and {len(outs)} output files: "
            "give one flow, fold and output per fold"
        )
    window = _window(split_file)
    injection = read_attrs(split_file).get("injection")
    data = read_tables(split_file)["data"]
    for flow_file, fold, out in zip(flow_files, folds, outs, strict=True):
        _write_samples(cfg, ConditionalFlow.load(flow_file), data, window, fold, out, injection)


def flow_diagnostics(
    cfg: Mapping[str, Any], split_file: PathArg, flow_file: PathArg, out_dir: PathArg, threads: int
) -> float:
    """Closure of the fold-0 sideband flow: feature plots, loss curves, ``closure.json``.

    Returns the closure AUC (classifier two-sample test, SB data vs samples).
    """
    from anode_cathode.density import ConditionalFlow
    from anode_cathode.density.diagnostics import plot_feature_closure, plot_losses
    from anode_cathode.evaluation.closure import closure_auc, feature_closure

    window = _window(split_file)
    data = read_tables(split_file)["data"]
    flow = ConditionalFlow.load(flow_file)
    cols = flow_inputs(cfg)
    sb = window.in_sb(data["mjj"].to_numpy())
    if cfg["splits"]["folds"] > 1:  # the fold-0 flow did not see fold 0: an honest closure
        sb &= data["fold"].to_numpy() == 0
    sb = data[sb]
    base = cfg["flow"]["seed"]
    rng = np.random.default_rng(derive_seed("closure_events", window.name, base))
    sb = sb.iloc[rng.permutation(len(sb))[: cfg["diagnostics"]["max_events"]]]
    x_data = sb[cols].to_numpy()
    x_samples = flow.sample(
        sb["mjj"].to_numpy(), random_state=derive_seed("closure_samples", window.name, base)
    )
    auc = closure_auc(
        x_data,
        x_samples,
        seed=derive_seed("closure_classifier", window.name, base),
        n_threads=threads,
    )
    out = Path(out_dir)
    title = f"{window.name}: SB data vs flow samples (closure AUC {auc:.3f})"
    plot_feature_closure(x_data, x_samples, cols, title, out / "features.png")
    plot_losses(
        flow.train_losses_,
        flow.val_losses_,
        flow.best_epochs_,
        f"{window.name}: sideband flow",
        out / "losses.png",
    )
    write_json(
        out / "closure.json",
        {
            "window": window.name,
            "closure_auc": auc,
            "n_events": len(x_data),
            "best_epochs": [int(e) + 1 for e in flow.best_epochs_],
            "best_val_loss": float(min(flow.val_losses_)),
            "features": feature_closure(x_data, x_samples, cols),
        },
    )
    log.info("%s: closure AUC (SB data vs samples) = %.3f", window.name, auc)
    return auc


def score_anode(
    cfg: Mapping[str, Any],
    split_file: PathArg,
    flows_sb: Sequence[PathArg],
    flows_sr: Sequence[PathArg],
    seeds: Sequence[int],
    outs: Sequence[PathArg],
    score_data: bool = True,
    spurious: PathArg | None = None,
) -> None:
    """ANODE density-ratio scores of the test set and (out of fold, with ``score_data``) of the
    data, per seed; with ``spurious`` (calibration) also of the independent background sample.

    ``flows_sr`` holds the SR flows seed by seed (the k folds of ``seeds[0]``, then those of
    ``seeds[1]``, …); ``outs`` one file per seed. One process scores all seeds: the tables and
    the SB flows are loaded, and their densities computed, once.
    """
    from anode_cathode.density import ConditionalFlow
    from anode_cathode.methods.anode import score_seeds

    k = len(flows_sb)
    if len(seeds) != len(outs) or len(flows_sr) != k * len(seeds):
        raise ValueError(
            f"score-anode: {len(seeds)} seeds, {len(outs)} output files and {len(flows_sr)} SR "
            f"flows for {k} SB flows: give one output per seed and {k} SR flows (one per fold) "
            "per seed"
        )
    window = _window(split_file)
    tables = read_tables(split_file)
    if spurious is not None and score_data:
        tables["spurious"] = read_spurious(spurious, cfg["features"], window)
    sb = [ConditionalFlow.load(p) for p in flows_sb]
    sr = [
        [ConditionalFlow.load(p) for p in flows_sr[i * k : (i + 1) * k]] for i in range(len(seeds))
    ]
    per_seed = score_seeds(sb, sr, tables, flow_inputs(cfg), window, score_data=score_data)
    for seed, out, scores in zip(seeds, outs, per_seed, strict=True):
        write_tables(
            out,
            scores,
            {
                "method": "anode",
                "classifier": DENSITY,
                "seed": seed,
                "window": window.to_dict(),
                "window_name": window.name,
                "config_hash": config_hash(cfg, "flow", "anode", "features"),
            },
        )
