"""Density steps: train a flow (SB or SR), draw CATHODE samples, diagnostics, ANODE scores."""

from __future__ import annotations

import argparse

from anode_cathode.cli.common import add_config, add_score_data, add_threads, get_config


def cmd_train_flow(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import density

    density.train_flows(
        get_config(args),
        args.split,
        args.region,
        args.fold,
        args.seed,
        args.out,
        args.threads,
        samples=args.samples,
    )


def cmd_sample(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import density

    density.sample(get_config(args), args.split, args.flow, args.fold, args.out)


def cmd_flow_diagnostics(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import density

    density.flow_diagnostics(get_config(args), args.split, args.flow, args.out_dir, args.threads)


def cmd_score_anode(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import density

    density.score_anode(
        get_config(args),
        args.split,
        args.flows_sb,
        args.flows_sr,
        args.seed,
        args.out,
        score_data=args.score_data,
        spurious=args.spurious,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-flow", help="conditional flows p(x|mjj) on SB (or SR) data")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True)
    p.add_argument("--region", choices=["sb", "sr"], default="sb")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="SR flows: training seeds")
    p.add_argument("--fold", type=int, nargs="+", default=[0], help="held-out folds (k >= 2)")
    p.add_argument(
        "--out",
        nargs="+",
        required=True,
        help="model files (.pt), one per fold (SR: per seed and fold, seed after seed); "
        "losses go next to them",
    )
    p.add_argument(
        "--samples",
        nargs="+",
        default=None,
        help="SB flows: also draw the CATHODE samples, one file per fold",
    )
    p.set_defaults(func=cmd_train_flow)

    p = sub.add_parser("sample", help="CATHODE background samples in the SR")
    add_config(p)
    add_threads(p)
    p.add_argument("--split", required=True)
    p.add_argument("--flow", nargs="+", required=True, help="SB flow of each --fold")
    p.add_argument(
        "--fold", type=int, nargs="+", default=[0], help="folds the flows did not see (k >= 2)"
    )
    p.add_argument("--out", nargs="+", required=True, help="samples file per fold")
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
    p.add_argument(
        "--flows-sr", nargs="+", required=True, help="SR flows, one per fold, seed after seed"
    )
    p.add_argument("--seed", type=int, nargs="+", required=True, help="training seed(s)")
    p.add_argument("--out", nargs="+", required=True, help="scores file per seed")
    p.add_argument(
        "--spurious", default=None, help="calibration: independent background sample to score"
    )
    add_score_data(p)
    p.set_defaults(func=cmd_score_anode)
