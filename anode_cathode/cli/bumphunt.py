"""Bump-hunt steps: cuts and fits per window, the scan with global p-values, calibration,
injection linearity."""

from __future__ import annotations

import argparse

from anode_cathode.cli.common import add_config, add_threads, get_config


def cmd_bumphunt_window(args: argparse.Namespace) -> None:
    """``bumphunt-window``: cuts, fits and local Z of one window, per method and classifier."""
    from anode_cathode.pipeline import bumphunt

    bumphunt.bumphunt_windows(get_config(args), args.scores, args.out, args.plot)


def cmd_window_chain(args: argparse.Namespace) -> None:
    """``window-chain``: every step of one window in one process (calibration's null sets)."""
    from anode_cathode.pipeline import chain

    chain.window_chain(
        get_config(args),
        args.dataset,
        args.window,
        args.combo,
        args.out,
        args.threads,
        spurious=args.spurious,
    )


def cmd_bumphunt_scan(args: argparse.Namespace) -> None:
    """``bumphunt-scan``: the scan's tables and plots; prints the Markdown table."""
    from anode_cathode.pipeline import bumphunt

    print(bumphunt.bumphunt_scan(get_config(args), args.inputs, args.inj, args.out_dir))


def cmd_calibrate(args: argparse.Namespace) -> None:
    """``calibrate``: the observed scan against the null ensembles; prints the table."""
    from anode_cathode.pipeline import calibration

    print(
        calibration.calibrate(get_config(args), args.observed, args.null, args.test, args.out_dir)
    )


def cmd_linearity(args: argparse.Namespace) -> None:
    """``linearity``: fitted vs true signal over injected data sets; prints the table."""
    from anode_cathode.pipeline import bumphunt

    print(bumphunt.injection_linearity(get_config(args), args.inputs, args.out_dir))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bumphunt-window``, ``window-chain``, ``bumphunt-scan``, ``calibrate`` and
    ``linearity`` subcommands."""
    p = sub.add_parser("bumphunt-window", help="score cuts, dijet fits and local Z in one window")
    add_config(p)
    # repeated groups: --scores <seed files> --out <json> --plot <png>, one per method
    p.add_argument(
        "--scores",
        nargs="+",
        action="append",
        required=True,
        help="score files of one method and classifier (one per seed); repeat per method",
    )
    p.add_argument("--out", action="append", required=True, help="results (JSON), per group")
    p.add_argument("--plot", action="append", required=True, help="spectra (PNG), per group")
    p.set_defaults(func=cmd_bumphunt_window)

    p = sub.add_parser(
        "window-chain",
        help="split, flows, classifiers, cuts and fits of one window in one process",
    )
    add_config(p)
    add_threads(p)
    p.add_argument("--dataset", required=True, help="data set from 'inject' or 'null-dataset'")
    p.add_argument("--window", required=True, help="window name, e.g. sr3300-3700")
    p.add_argument(
        "--combo", nargs="+", required=True, help="method_classifier names, e.g. cathode_bdt"
    )
    p.add_argument("--out", nargs="+", required=True, help="bump-hunt results (JSON), per combo")
    p.add_argument(
        "--spurious", default=None, help="calibration: independent background sample to score"
    )
    p.set_defaults(func=cmd_window_chain)

    p = sub.add_parser("bumphunt-scan", help="local Z vs window, global p-values, null check")
    add_config(p)
    p.add_argument("--inputs", nargs="+", required=True, help="bumphunt-window results")
    p.add_argument("--inj", required=True, help="injection tag (for titles)")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_bumphunt_scan)

    p = sub.add_parser("calibrate", help="calibrated global p-values from null ensembles")
    add_config(p)
    p.add_argument("--observed", nargs="+", required=True, help="bumphunt-window results")
    p.add_argument(
        "--null", nargs="+", required=True, help="results of the calibration null data sets"
    )
    p.add_argument("--test", nargs="*", default=[], help="results of the test null data sets")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("linearity", help="fitted vs true signal over injected data sets")
    add_config(p)
    p.add_argument(
        "--inputs", nargs="+", required=True, help="bumphunt-window results of the data sets"
    )
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_linearity)
