"""Arguments shared by the subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from anode_cathode.config import load_config
from anode_cathode.data.regions import Window, windows_from_config

__all__ = ["add_config", "add_threads", "find_window", "get_config"]


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="YAML/JSON config file or inline JSON (defaults fill what is missing)",
    )


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the rule's threads)")


def get_config(args: argparse.Namespace) -> dict[str, Any]:
    inline = isinstance(args.config, str) and args.config.lstrip().startswith("{")
    # inline JSON comes from the workflow, which checked the whole config at start
    return load_config(args.config, check=not inline)


def find_window(cfg: dict[str, Any], name: str) -> Window:
    windows = {w.name: w for w in windows_from_config(cfg)}
    if name not in windows:
        raise ValueError(f"unknown window '{name}'; the config defines {sorted(windows)}")
    return windows[name]
