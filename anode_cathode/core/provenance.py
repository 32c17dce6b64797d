"""Which code made a result: a hash of the package's own sources.

Snakemake reruns a step when its inputs or parameters change, not when the Python package it
calls does, so a results directory can silently mix steps of several versions. The workflow puts
:func:`source_hash` into every step's parameters: a code update then reruns every step, and
numbers read from ``results/<run>/`` come from one version.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["source_hash"]

_PACKAGE = Path(__file__).resolve().parents[1]


def source_hash(package_dir: str | Path | None = None, length: int = 12) -> str:
    """Hex digest of every ``.py`` file under ``package_dir`` (default: this package),
    names and contents, in a fixed order; the first ``length`` characters."""
    root = Path(package_dir) if package_dir is not None else _PACKAGE
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:length]
