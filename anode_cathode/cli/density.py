"""Density steps: train a flow (SB or SR), draw CATHODE samples, diagnostics, ANODE scores."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from anode_cathode.cli.common import add_config, add_threads, get_config
from anode_cathode.config import config_hash, sr_flow_config
from anode_cathode.data.io import atomic_path, read_attrs, read_tables, write_json, write_tables
from anode_cathode.data.regions import Window

log = logging.getLogger(__name__)


def flow_inputs(cfg: dict) -> list[str]:
    """Flow features: the classifier inputs without mjj (mjj is the condition)."""
    return [c for c in cfg["features"] if c != "mjj"]


def make_flow(settings: dict[str, Any], seed: int, threads: int, device: str):
    from anode_cathode.density import ConditionalFlow, scale_learning_rate

    params = {k: v for k, v in settings.items() if k not in ("seed", "lr_scaling")}
    params["learning_rate"] = scale_learning_rate(
        settings["learning_rate"], settings["batch_size"], rule=settings["lr_scaling"]
    )
    return ConditionalFlow(**params, device=device, n_threads=threads, random_state=seed)


def _window(split: str) -> Window:
    return Window.from_dict(read_attrs(split)["window"])


def cmd_train_flow(args: argparse.Namespace) -> None:
    from anode_cathode.device import set_threads
    from anode_cathode.methods.anode import flow_training_data

    cfg = get_config(args)
    threads = set_threads(args.threads)
    window = _window(args.split)
    data = read_tables(args.split)["data"]
    cols = flow_inputs(cfg)
    X, m = flow_training_data(data, window, cols, args.region, args.fold, cfg["splits"]["folds"])
    if args.region == "sb":
        settings, seed = cfg["flow"], cfg["flow"]["seed"] + args.fold
    else:
        settings, seed = sr_flow_config(cfg), args.seed * 1000 + args.fold
    if len(X) < 100:
        raise ValueError(
            f"{window.name}: only {len(X)} {args.region.upper()} events to train a flow"
        )
    log.info(
        "%s: training the %s flow of fold %d on %d events (%s)",
        window.name,
        args.region.upper(),
        args.fold,
        len(X),
        ", ".join(cols),
    )
    flow = make_flow(settings, seed, threads, cfg["device"]).fit(X, m)
    flow.save(args.out)
    losses = pd.DataFrame(
        {
            "epoch": range(1, len(flow.train_losses_) + 1),
            "train_loss": flow.train_losses_,
            "val_loss": flow.val_losses_,
            "seconds": flow.epoch_times_,
        }
    )
    with atomic_path(Path(args.out).with_suffix(".losses.csv")) as tmp:
        losses.to_csv(tmp, index=False)
    log.info(
        "best epochs %s, %.1f s per epoch on %s",
        [int(e) + 1 for e in flow.best_epochs_],
        losses.seconds.mean(),
        flow.device_,
    )


def cmd_sample(args: argparse.Namespace) -> None:
    from anode_cathode.density import ConditionalFlow
    from anode_cathode.device import set_threads
    from anode_cathode.methods.cathode import draw_samples

    cfg = get_config(args)
    set_threads(args.threads)
    window = _window(args.split)
    data = read_tables(args.split)["data"]
    flow = ConditionalFlow.load(args.flow)
    if cfg["splits"]["folds"] > 1:  # the masses and the number of the classifier's SR events
        data = data[data["fold"].to_numpy() != args.fold]
    c = cfg["cathode"]
    samples = draw_samples(
        flow,
        data,
        window,
        flow_inputs(cfg),
        c["oversampling"],
        c["kde_bandwidth"],
        seed=cfg["flow"]["seed"] + args.fold,
    )
    write_tables(
        args.out,
        {"samples": samples},
        {
            "window": window.to_dict(),
            "fold": args.fold,
            "config_hash": config_hash(cfg, "flow", "cathode", "splits"),
        },
    )


def cmd_flow_diagnostics(args: argparse.Namespace) -> None:
    import numpy as np

    from anode_cathode.density import ConditionalFlow
    from anode_cathode.density.diagnostics import closure_auc, plot_feature_closure, plot_losses
    from anode_cathode.device import set_threads

    cfg = get_config(args)
    threads = set_threads(args.threads)
    window = _window(args.split)
    data = read_tables(args.split)["data"]
    flow = ConditionalFlow.load(args.flow)
    cols = flow_inputs(cfg)
    sb = window.in_sb(data["mjj"].to_numpy())
    if cfg["splits"]["folds"] > 1:  # the fold-0 flow did not see fold 0: an honest closure
        sb &= data["fold"].to_numpy() == 0
    sb = data[sb]
    rng = np.random.default_rng(cfg["flow"]["seed"] + 1)
    sb = sb.iloc[rng.permutation(len(sb))[: cfg["diagnostics"]["max_events"]]]
    x_data = sb[cols].to_numpy()
    x_samples = flow.sample(sb["mjj"].to_numpy(), random_state=cfg["flow"]["seed"] + 2)
    auc = closure_auc(x_data, x_samples, seed=cfg["flow"]["seed"], n_threads=threads)
    out = Path(args.out_dir)
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
        },
    )
    log.info("%s: closure AUC (SB data vs samples) = %.3f", window.name, auc)


def cmd_score_anode(args: argparse.Namespace) -> None:
    from anode_cathode.density import ConditionalFlow
    from anode_cathode.device import set_threads
    from anode_cathode.methods.anode import score_tables

    cfg = get_config(args)
    set_threads(args.threads)
    window = _window(args.split)
    tables = read_tables(args.split)
    flows_sb = [ConditionalFlow.load(p) for p in args.flows_sb]
    flows_sr = [ConditionalFlow.load(p) for p in args.flows_sr]
    scores = score_tables(flows_sb, flows_sr, tables, flow_inputs(cfg), window)
    write_tables(
        args.out,
        scores,
        {
            "method": "anode",
            "classifier": "density",
            "seed": args.seed,
            "window": window.to_dict(),
            "window_name": window.name,
            "config_hash": config_hash(cfg, "flow", "anode", "features"),
        },
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-flow", help="conditional flow p(x|mjj) on SB (or SR) data")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True)
    p.add_argument("--region", choices=["sb", "sr"], default="sb")
    p.add_argument("--seed", type=int, default=0, help="SR flows: training seed")
    p.add_argument("--fold", type=int, default=0, help="held-out fold (k >= 2)")
    p.add_argument("--out", required=True, help="model file (.pt); losses go next to it")
    p.set_defaults(func=cmd_train_flow)

    p = sub.add_parser("sample", help="CATHODE background samples in the SR")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True)
    p.add_argument("--flow", required=True, help="SB flow of --fold")
    p.add_argument("--fold", type=int, default=0, help="fold the flow did not see (k >= 2)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("flow-diagnostics", help="SB closure: histograms and classifier AUC")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True)
    p.add_argument("--flow", required=True, help="SB flow of fold 0")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_flow_diagnostics)

    p = sub.add_parser("score-anode", help="ANODE density-ratio scores")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True)
    p.add_argument("--flows-sb", nargs="+", required=True, help="SB flows, one per fold")
    p.add_argument("--flows-sr", nargs="+", required=True, help="SR flows, one per fold")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_score_anode)
