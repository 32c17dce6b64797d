"""Evaluation steps: per-window metrics and plots, and the run summary."""

from __future__ import annotations

import argparse

from anode_cathode.cli.common import add_config, get_config


def cmd_evaluate(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import evaluate

    evaluate.evaluate_window(get_config(args), args.scores, args.window, args.inj, args.out_dir)


def cmd_summarize(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import evaluate

    print(
        evaluate.summarize(get_config(args), args.metrics, args.curves, args.closure, args.out_dir)
    )


def cmd_injection_scan(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import evaluate

    print(evaluate.injection_scan(get_config(args), args.metrics, args.out_dir))


def cmd_bands(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import evaluate

    print(evaluate.full_bands(get_config(args), args.metrics, args.out_dir))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="ROC/SIC of all methods in one window")
    add_config(p)
    p.add_argument("--scores", nargs="+", required=True, help="score files from 'train'")
    p.add_argument("--window", required=True)
    p.add_argument("--inj", required=True, help="injection tag")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("summarize", help="summary tables and the run's SIC/ROC plots")
    add_config(p)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every window")
    p.add_argument("--curves", required=True, help="curves.h5 of the reference window")
    p.add_argument("--closure", nargs="*", default=[], help="flow closure.json per window")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("injection-scan", help="max SIC vs S/B over injections (CATHODE figure)")
    add_config(p)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv per injection")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_injection_scan)

    p = sub.add_parser("bands", help="bands over injection and training seeds (full randomness)")
    add_config(p)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv per injection seed")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_bands)
