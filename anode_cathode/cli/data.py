"""Data steps: generate, download, features, inject, split."""

from __future__ import annotations

import argparse
import logging

from anode_cathode.cli.common import add_config, find_window, get_config
from anode_cathode.config import config_hash
from anode_cathode.data.io import read_attrs, read_tables, write_tables
from anode_cathode.data.regions import windows_from_config

log = logging.getLogger(__name__)


def _generate(cfg: dict):
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


def cmd_generate(args: argparse.Namespace) -> None:
    from anode_cathode.data.lhco import write_lhco

    events, extra = _generate(get_config(args))
    write_lhco(events, args.events)
    write_lhco(extra, args.extra)
    log.info(
        "wrote %d events to %s and %d extra background events to %s",
        len(events),
        args.events,
        len(extra),
        args.extra,
    )


def cmd_example_ntuples(args: argparse.Namespace) -> None:
    from anode_cathode.data.example_ntuples import write_example_ntuples

    events, extra = _generate(get_config(args))
    write_example_ntuples(events, args.out_dir, n_files=args.n_files, prefix="events")
    write_example_ntuples(extra, args.out_dir, n_files=1, prefix="extra")


def cmd_download(args: argparse.Namespace) -> None:
    from anode_cathode.data.download import fetch

    fetch(args.url, args.dest, md5=args.md5 or None, timeout=args.timeout, progress=False)


def cmd_features(args: argparse.Namespace) -> None:
    from anode_cathode.data.inputs import read_inputs

    cfg = get_config(args)
    tables = read_inputs(cfg, args.events, args.extra or None)
    write_tables(
        args.out, tables, {"config_hash": config_hash(cfg, "data"), "source": cfg["data"]["source"]}
    )


def cmd_inject(args: argparse.Namespace) -> None:
    from anode_cathode.data.splits import inject_signal

    cfg = get_config(args)
    tables = read_tables(args.features)
    reference = windows_from_config({**cfg, "windows": {**cfg["windows"], "scan": None}})[0]
    out = inject_signal(tables["events"], tables["extra"], cfg, reference)
    attrs = {
        "config_hash": config_hash(cfg, "data", "injection", "splits"),
        "injection": cfg["injection"],
        "folds": cfg["splits"]["folds"],
    }
    write_tables(args.out, out, attrs)


def cmd_split(args: argparse.Namespace) -> None:
    from anode_cathode.data.splits import split_window

    cfg = get_config(args)
    window = find_window(cfg, args.window)
    dataset = read_tables(args.dataset)
    tables = split_window(dataset, window, cfg["splits"])
    attrs = dict(read_attrs(args.dataset))
    attrs.update({"window": window.to_dict(), "window_name": window.name})
    write_tables(args.out, tables, attrs)


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
