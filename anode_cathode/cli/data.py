"""Data steps: generate, download, features, inject, split, null data sets, spurious sample."""

from __future__ import annotations

import argparse

from anode_cathode.cli.common import add_config, add_threads, get_config


def cmd_generate(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.generate(get_config(args), args.events, args.extra)


def cmd_example_ntuples(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.example_ntuples(get_config(args), args.out_dir, args.n_files)


def cmd_download(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.download(args.url, args.dest, args.md5, args.timeout)


def cmd_features(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.features(get_config(args), args.events, args.extra, args.out)


def cmd_inject(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.inject(get_config(args), args.features, args.out)


def cmd_split(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.split(get_config(args), args.window, args.dataset, args.out)


def cmd_null_dataset(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.null_dataset(
        get_config(args), args.index, args.out, args.features, args.smoothing, args.observed
    )


def cmd_spurious_sample(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.spurious_sample(get_config(args), args.out, args.features, args.smoothing, args.observed)


def cmd_smoothing_model(args: argparse.Namespace) -> None:
    from anode_cathode.pipeline import data

    data.smoothing_model(get_config(args), args.dataset, args.flow, args.spectrum, args.threads)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="built-in LHCO-like events (LHCO HDF5 format)")
    add_config(p)
    p.add_argument("--events", required=True, help="output: events (background + signal)")
    p.add_argument("--extra", required=True, help="output: extra inner-only background")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("example-ntuples", help="NanoAOD-like ROOT files from the generator")
    add_config(p)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--n-files", type=int, default=2)
    p.set_defaults(func=cmd_example_ntuples)

    p = sub.add_parser("download", help="fetch a file and verify its MD5 checksum")
    p.add_argument("--url", required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--md5", default=None)
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("features", help="read the input and build the feature tables")
    add_config(p)
    p.add_argument("--events", default=None, help="LHCO-format events file (lhco/builtin)")
    p.add_argument("--extra", default=None, help="LHCO-format extra background file")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("inject", help="inject signal, hold out true background, assign folds")
    add_config(p)
    p.add_argument("--features", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_inject)

    p = sub.add_parser("split", help="tables of one window: data, training and test sets")
    add_config(p)
    p.add_argument("--dataset", required=True)
    p.add_argument("--window", required=True, help="window name, e.g. sr3300-3700")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("null-dataset", help="background-only pseudo-data set (calibration)")
    add_config(p)
    p.add_argument("--index", type=int, required=True, help="number of the pseudo-data set")
    p.add_argument("--features", default=None, help="the run's features (not built-in data)")
    p.add_argument(
        "--smoothing", nargs=2, default=None, help="smoothed pseudo-data: flow, spectrum"
    )
    p.add_argument("--observed", default=None, help="smoothed pseudo-data: the observed data set")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_null_dataset)

    p = sub.add_parser("spurious-sample", help="background sample for the spurious signal")
    add_config(p)
    p.add_argument("--features", default=None, help="the run's features (not built-in data)")
    p.add_argument(
        "--smoothing", nargs=2, default=None, help="smoothed pseudo-data: flow, spectrum"
    )
    p.add_argument("--observed", default=None, help="smoothed pseudo-data: the observed data set")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_spurious_sample)

    p = sub.add_parser(
        "smoothing-model", help="fitted spectrum and flow of the data (smoothed pseudo-data)"
    )
    add_config(p)
    add_threads(p)
    p.add_argument("--dataset", required=True, help="the observed data set ('inject' output)")
    p.add_argument("--flow", required=True, help="output: the flow p(x | mjj) of all data")
    p.add_argument("--spectrum", required=True, help="output: the fitted mjj spectrum (JSON)")
    p.set_defaults(func=cmd_smoothing_model)
