"""Atomic file writes and input-file checks.

Every output appears complete under its final name or not at all, with the permissions the
user's umask gives (group-readable results on shared clusters); write failures (disk full,
read-only or permission-denied directory) and unusable input files become one-line errors
that name the file and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "InputFileError",
    "OutputError",
    "PathArg",
    "atomic_path",
    "check_input_file",
    "check_writable",
    "output_error",
    "write_json",
    "write_text",
]

#: What the file helpers and workflow steps accept as a path.
PathArg = str | os.PathLike


class InputFileError(ValueError):
    """An input file that is missing, unreadable, empty, truncated or of the wrong format."""


class OutputError(OSError):
    """An output that cannot be written (disk full, read-only or permission-denied directory)."""


_OUTPUT_FIXES = {
    errno.ENOSPC: "the disk is full: free space or point the results elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free space or point the results elsewhere",
    errno.EROFS: "the file system is read-only: remount it writable or run elsewhere",
    errno.EACCES: "permission denied: make the directory writable or run elsewhere",
    errno.EPERM: "operation not permitted: make the directory writable or run elsewhere",
}


def _file_mode() -> int:
    """Mode a plain ``open()`` would give a new file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def output_error(path: PathArg, err: OSError) -> OutputError | OSError:
    """``err`` as an :class:`OutputError` naming ``path`` and the fix, when it is a known cause."""
    fix = _OUTPUT_FIXES.get(err.errno or -1)
    if fix is None:
        return err
    out = OutputError(f"{path}: cannot write ({os.strerror(err.errno)}); {fix}")
    out.errno = err.errno
    return out


def _disk_full(directory: Path, min_free: int = 1 << 20) -> bool:
    try:
        return shutil.disk_usage(directory).free < min_free
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only on success.

    A crash or exception leaves any earlier ``path`` untouched and no partial file behind. The
    file gets the permissions of the umask (``mkstemp`` alone would make it owner-only).

    Raises
    ------
    OutputError
        When the directory cannot be created or written (disk full, read-only, no permission).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise output_error(path, err) from err
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            os.chmod(tmp_path, _file_mode())
            os.replace(tmp_path, path)
        except OSError as err:
            raise output_error(path, err) from err
        except Exception as err:
            # HDF5 writers report a full disk as their own error type: check the space left
            if _disk_full(path.parent):
                raise output_error(path, OSError(errno.ENOSPC, "")) from err
            raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (ImportError, KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid())


def check_input_file(path: PathArg, what: str, fix: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is a readable, non-empty file.

    Parameters
    ----------
    path
        The input file.
    what
        What the file is, for the message (e.g. ``"LHCO events file"``).
    fix
        The config key or action that fixes the problem (e.g. ``"set data.lhco.events"``).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    InputFileError
        When it is a directory, cannot be read or has 0 bytes.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found; {fix}")
    if not path.is_file():
        raise InputFileError(f"{path}: {what} is not a regular file; {fix}")
    if not os.access(path, os.R_OK):
        raise InputFileError(
            f"{path}: {what} cannot be read (permission denied for user {_user()}): ask its "
            f"owner for read access (chmod g+r / o+r) or {fix}"
        )
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: {what} is empty (0 bytes); replace it or {fix}")
    return path


def check_writable(directory: PathArg) -> None:
    """Create ``directory`` and write a probe file in it, or raise an :class:`OutputError`.

    Folders that already exist below it must be writable too (a read-only mount or another
    user's folder inside the results would otherwise fail a job deep inside Snakemake): they
    are checked with ``access(2)``, which costs one system call per folder.
    """
    probe = Path(directory) / ".anode-cathode.write-test"
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise output_error(directory, err) from err
    for root, _, _ in os.walk(directory):
        if not os.access(root, os.W_OK | os.X_OK):
            code = errno.EROFS if os.statvfs(root).f_flag & os.ST_RDONLY else errno.EACCES
            raise output_error(root, OSError(code, os.strerror(code)))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (indented, keys in insertion order)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
