"""Arguments shared by the subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from anode_cathode.config import load_config

__all__ = ["add_config", "add_score_data", "add_threads", "get_config"]


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="YAML/JSON config file or inline JSON (defaults fill what is missing)",
    )


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the rule's threads)")


def add_score_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--score-data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score the data events (the bump hunt's input)",
    )


def get_config(args: argparse.Namespace) -> dict[str, Any]:
    inline = isinstance(args.config, str) and args.config.lstrip().startswith("{")
    # inline JSON comes from the workflow, which checked the whole config at start
    return load_config(args.config, check=not inline)
