"""HDF5 tables exchanged between workflow steps, written atomically.

Every file holds one group per table, one dataset per column, and provenance attributes
(package version, config hash, seed) on the root group.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from anode_cathode import __version__
from anode_cathode.core.files import atomic_path

__all__ = ["read_attrs", "read_table", "read_tables", "write_csv", "write_tables"]


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


def write_csv(df: pd.DataFrame, path: str | os.PathLike, float_format: str | None = "%.6g") -> None:
    """Write a table as CSV atomically (no index; 6 significant digits unless
    ``float_format`` says otherwise, ``None``: full precision)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format=float_format)
