"""Command line ``anode-cathode <step>``: one subcommand per workflow step.

Every Snakemake rule is a thin call of one of these. The command line only parses arguments
and calls one function of :mod:`anode_cathode.pipeline`; the work is done by the library. The
step modules import the pipeline inside their commands, so that the thread limits are set
before numpy and torch start their thread pools.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence

from anode_cathode import __version__
from anode_cathode.cli import bumphunt, classify, data, density, evaluate
from anode_cathode.config import ConfigError
from anode_cathode.core.device import set_threads

__all__ = ["main"]

#: Modules that add subcommands through ``register(subparsers)``.
COMMAND_MODULES = (data, density, classify, evaluate, bumphunt)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anode-cathode",
        description="Weakly supervised resonant anomaly detection (CATHODE, ANODE, CWoLa).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="STEP")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


class StepTerminated(BaseException):
    """SIGTERM or SIGHUP arrived (a killed Snakemake, ``scancel``, a closed terminal).

    A :class:`BaseException`, like :class:`KeyboardInterrupt`, so that no ``except Exception``
    swallows it and every ``finally`` (temporary outputs are removed there) still runs.
    """


def _raise_terminated(signum: int, _frame: object) -> None:
    raise StepTerminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
    # before the step imports numpy and torch, so that their thread pools start limited
    set_threads(getattr(args, "threads", 1))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from anode_cathode.data.download import DownloadError

    expected = (ConfigError, ValueError, OSError, KeyError, FloatingPointError, DownloadError)
    try:
        args.func(args)
    except (KeyboardInterrupt, StepTerminated) as err:
        signum = err.args[0] if isinstance(err, StepTerminated) else signal.SIGINT
        name = signal.Signals(signum).name
        print(
            f"anode-cathode {args.command}: error: stopped by {name} (killed or cancelled); no "
            "partial output kept, run the same command again to resume",
            file=sys.stderr,
            flush=True,
        )
        return 128 + int(signum)
    except Exception as err:
        # the traceback for the log, then one line as the last thing the step prints (the
        # workflow repeats it after Snakemake's summary)
        traceback.print_exc(file=sys.stderr)
        if isinstance(err, expected):
            message = str(err)
        else:  # a bug or an unforeseen failure
            message = f"unexpected {type(err).__name__}: {err} (please report it)"
        print(f"anode-cathode {args.command}: error: {message}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
