"""HDF5 tables exchanged between workflow steps, written atomically.

Every file holds one group per table, one dataset per column, and provenance attributes
(package version, config hash, seed) on the root group.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from anode_cathode import __version__

__all__ = [
    "atomic_path",
    "read_attrs",
    "read_table",
    "read_tables",
    "write_json",
    "write_tables",
]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only on success.

    A crash or exception leaves any earlier ``path`` untouched and no partial file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _attr_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return value


def write_tables(
    path: str | os.PathLike,
    tables: Mapping[str, pd.DataFrame],
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write named tables of numeric columns to one HDF5 file, atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["anode_cathode_version"] = __version__
        for key, value in (attrs or {}).items():
            f.attrs[key] = _attr_value(value)
        for name, df in tables.items():
            group = f.create_group(name)
            group.attrs["columns"] = json.dumps([str(c) for c in df.columns])
            group.attrs["n_rows"] = len(df)
            for column in df.columns:
                group.create_dataset(str(column), data=np.asarray(df[column]))


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")


def read_table(
    path: str | os.PathLike, name: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read one table written by :func:`write_tables`."""
    path = Path(path)
    _check_file(path)
    with h5py.File(path, "r") as f:
        if name not in f:
            raise KeyError(f"{path}: no table '{name}' (tables: {sorted(f.keys())})")
        group = f[name]
        all_columns = json.loads(group.attrs["columns"])
        wanted = all_columns if columns is None else columns
        missing = [c for c in wanted if c not in all_columns]
        if missing:
            raise KeyError(f"{path}: table '{name}' has no columns {missing} (has {all_columns})")
        return pd.DataFrame({c: group[c][()] for c in wanted})


def read_tables(path: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read every table of a file written by :func:`write_tables`."""
    path = Path(path)
    _check_file(path)
    with h5py.File(path, "r") as f:
        names = list(f.keys())
    return {name: read_table(path, name) for name in names}


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Provenance attributes of a file written by :func:`write_tables`."""
    path = Path(path)
    _check_file(path)
    with h5py.File(path, "r") as f:
        return {k: _decode_attr(v) for k, v in f.attrs.items()}


def _decode_attr(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (indented, keys in insertion order)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
