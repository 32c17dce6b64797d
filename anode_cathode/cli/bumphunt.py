"""Bump-hunt steps: cuts and fits per window, the scan with global p-values, calibration,
injection linearity."""

from __future__ import annotations

import argparse

from anode_cathode.cli.common import add_config, get_config


def cmd_bumphunt_window(args: argparse.Namespace) -> None:
    """``bumphunt-window``: cuts, fits and local Z of one window, per method and classifier."""
    from anode_cathode.pipeline import bumphunt

    bumphunt.bumphunt_windows(get_config(args), args.scores, args.out, args.plot)


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
    """Add the ``bumphunt-window``, ``bumphunt-scan``, ``calibrate`` and ``linearity``
    subcommands."""
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
