"""Resume after a kill: stale Snakemake locks and temporary files of dead runs.

A run killed with ``kill -9`` (or a crashed node) leaves Snakemake's directory locks and the
``.<name>.<random>.tmp`` files of :func:`~anode_cathode.core.files.atomic_path` behind, and
the next ``snakemake`` would refuse to start until ``--unlock``. The workflow's main process
holds an exclusive ``flock`` on ``.snakemake/anode-cathode.run.lock`` for its lifetime; the
kernel releases it when the process dies, however it dies. A run that obtains it therefore
knows that no other run of this workflow is alive in the directory, and removes what dead runs
left. A run that cannot obtain it leaves everything alone: Snakemake then reports the live
run's lock as usual.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import shutil
import sys
from pathlib import Path
from typing import IO, Any

__all__ = ["claim_workdir", "failed_step_errors", "report_failed_steps_at_exit"]

_TMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # tempfile.mkstemp's 8 random characters
_HELD: list[IO[str]] = []  # open lock files: kept for the life of the process


def _sweep_tmp(roots: list[Path]) -> int:
    n = 0
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if _TMP.match(name):
                    try:
                        os.unlink(os.path.join(dirpath, name))
                        n += 1
                    except OSError:
                        pass
    return n


def claim_workdir(workdir: str | os.PathLike, roots: list[str | os.PathLike]) -> list[str]:
    """Take the run lock of ``workdir``; if no other run holds it, clear what dead runs left.

    Parameters
    ----------
    workdir
        The Snakemake working directory (holding ``.snakemake/``).
    roots
        Directories to sweep for temporary files of killed jobs (e.g. ``results/<run>``).

    Returns
    -------
    list of str
        One line per action taken (stale lock removed, temporary files removed), or a line
        saying that another run is active and nothing was touched.
    """
    meta = Path(workdir) / ".snakemake"
    meta.mkdir(exist_ok=True)
    handle = open(meta / "anode-cathode.run.lock", "a+")  # held open until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return ["another snakemake run of this workflow is active in this directory"]
    _HELD.append(handle)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    messages = []
    locks = meta / "locks"
    if locks.is_dir() and any(locks.iterdir()):
        shutil.rmtree(locks, ignore_errors=True)
        messages.append(
            "removed the stale lock of an earlier run that was killed (no run is active here)"
        )
    n_tmp = _sweep_tmp([Path(r) for r in roots])
    if n_tmp:
        messages.append(f"removed {n_tmp} temporary file(s) left by killed jobs")
    return messages


_FAILED_LOG = re.compile(r"^\s*log: (.+?) \(check log file\(s\) for error details\)\s*$")
_ERROR_LINE = re.compile(r"^anode-cathode [\w-]+: error: ")
#: What SLURM writes into a job's log when it ends the job (cancelled, time limit, memory).
_SLURM_LINE = re.compile(r"(slurmstepd\S*: error: .*(\*\*\*|oom|Out Of Memory).*)", re.IGNORECASE)


def _read_lines(path: str | os.PathLike) -> list[str]:
    try:
        return Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []


def _job_error(logs: list[str]) -> str:
    """One line for one failed job from its log files (the step's log, SLURM's job log)."""
    texts = {log: _read_lines(log) for log in logs}
    for lines in texts.values():
        found = [s for s in lines if _ERROR_LINE.match(s)]
        if found:
            return found[-1]
    for log, lines in texts.items():
        found = [m.group(1).strip() for s in lines if (m := _SLURM_LINE.search(s))]
        if found:
            return f"{found[-1]} (the step was ended by SLURM; see {log})"
    return f"a step failed without an error line; see {', '.join(logs)}"


def failed_step_errors(snakemake_log: Any) -> list[str]:
    """The one-line errors of the steps that failed in a run, from Snakemake's log file(s).

    Snakemake lists each failed job's ``log:`` files (the step's log and, on SLURM, the job's
    log); the last line of these that starts with ``anode-cathode <step>: error:`` is the
    step's own error (file, field, fix). A job that SLURM ended before the step could say
    anything (cancelled, time limit, out of memory) is reported with SLURM's line; other steps
    that died silently (``kill -9``) with the paths of their logs.
    """
    logs = snakemake_log if isinstance(snakemake_log, (list, tuple)) else [snakemake_log]
    lines = [line for path in logs if path is not None for line in _read_lines(path)]
    errors: list[str] = []
    for line in lines:
        match = _FAILED_LOG.match(line)
        if match:
            text = _job_error(match.group(1).split(", "))
            if text not in errors:
                errors.append(text)
    return errors


def report_failed_steps_at_exit(snakemake_log: Any) -> None:
    """Print the failed steps' one-line errors when the process exits (the workflow's
    ``onerror``): after Snakemake's own summary, so that they are the last lines shown."""
    lines = failed_step_errors(snakemake_log)

    def _print() -> None:
        for line in lines:
            print(line, file=sys.stderr, flush=True)

    atexit.register(_print)
