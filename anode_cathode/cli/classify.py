"""Classifier training and scoring for one (window, method, classifier) and its seeds."""

from __future__ import annotations

import argparse

from anode_cathode.cli.common import add_config, add_score_data, add_threads, get_config
from anode_cathode.core.registry import CLASSIFIERS, classifier_methods


def cmd_train(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import classify

    classify.train(
        get_config(args),
        args.split,
        args.method,
        args.classifier,
        args.seed,
        args.samples,
        args.out,
        args.threads,
        score_data=args.score_data,
        spurious=args.spurious,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a method's classifier on a window and score events")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True, help="window tables from 'split'")
    p.add_argument("--method", required=True, choices=classifier_methods())
    p.add_argument("--classifier", required=True, choices=list(CLASSIFIERS))
    p.add_argument("--seed", type=int, nargs="+", required=True, help="training seed(s)")
    p.add_argument(
        "--samples", nargs="+", default=None, help="CATHODE: flow samples from 'sample', per fold"
    )
    p.add_argument("--out", nargs="+", required=True, help="scores file per seed")
    add_score_data(p)
    p.add_argument(
        "--spurious", default=None, help="calibration: independent background sample to score"
    )
    p.set_defaults(func=cmd_train)
