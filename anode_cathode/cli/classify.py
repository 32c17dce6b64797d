"""Classifier training and scoring for one (window, method, classifier, seed)."""

from __future__ import annotations

import argparse
import logging

from anode_cathode.cli.common import add_config, add_threads, get_config
from anode_cathode.config import config_hash
from anode_cathode.data.io import read_attrs, read_tables, write_tables
from anode_cathode.data.regions import Window

log = logging.getLogger(__name__)


def classifier_params(cfg: dict, kind: str) -> dict:
    """Estimator parameters of classifier ``kind`` from the config."""
    if kind == "mlp":
        return {**cfg["mlp"], "validation_fraction": cfg["splits"]["val_fraction"]}
    return dict(cfg["bdt"])


def cmd_train(args: argparse.Namespace) -> None:
    from anode_cathode.classifiers import make_classifier
    from anode_cathode.device import set_threads
    from anode_cathode.methods import fit_and_score

    cfg = get_config(args)
    threads = set_threads(args.threads)
    attrs = read_attrs(args.split)
    window = Window.from_dict(attrs["window"])
    tables = read_tables(args.split)
    if args.samples:  # one file per fold, from the SB flow that did not see the fold
        samples = [read_tables(p)["samples"] for p in args.samples]
        tables["samples"] = samples[0] if len(samples) == 1 else samples
    params = classifier_params(cfg, args.classifier)

    def factory(seed: int):
        return make_classifier(
            args.classifier, params, random_state=seed, n_threads=threads, device=cfg["device"]
        )

    scores, info = fit_and_score(
        args.method, tables, window, cfg["features"], factory, cfg["splits"]["folds"], args.seed
    )
    out_attrs = {
        "method": args.method,
        "classifier": args.classifier,
        "seed": args.seed,
        "window": window.to_dict(),
        "window_name": window.name,
        "features": cfg["features"],
        "config_hash": config_hash(cfg, "features", "splits", args.classifier),
        "info": info,
    }
    write_tables(args.out, scores, out_attrs)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a method's classifier on a window and score events")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True, help="window tables from 'split'")
    p.add_argument(
        "--method", required=True, choices=["supervised", "idealized", "cwola", "cathode"]
    )
    p.add_argument("--classifier", required=True, choices=["bdt", "mlp"])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument(
        "--samples", nargs="+", default=None, help="CATHODE: flow samples from 'sample', per fold"
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_train)
