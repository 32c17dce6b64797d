"""The LHC Olympics 2020 R&D features format: one pandas table of 15 columns in GeV."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from anode_cathode.core.files import InputFileError, atomic_path, check_input_file

__all__ = [
    "JET_QUANTITIES",
    "LHCO_COLUMNS",
    "RAW_COLUMNS",
    "find_key",
    "read_lhco",
    "write_lhco",
]

#: Per-jet quantities, suffixed with ``j1``/``j2`` in the table (GeV for momenta and masses).
JET_QUANTITIES = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
#: The 14 kinematic columns every input is converted to (label excluded).
RAW_COLUMNS = tuple(f"{q}j{j}" for j in (1, 2) for q in JET_QUANTITIES)
#: Column order of the published LHCO R&D features file.
LHCO_COLUMNS = (*RAW_COLUMNS, "label")


def find_key(path: str | os.PathLike) -> str:
    """Discover the pandas HDF key holding the LHCO table in ``path``.

    The published file has a single key; files with several keys must have exactly one whose
    table carries all LHCO columns.
    """
    path = check_input_file(
        path, "LHCO file", "set data.lhco.events / data.lhco.extra_background or enable download"
    )
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = list(store.keys())
            if len(keys) == 1:
                return keys[0]
            matching = [k for k in keys if set(RAW_COLUMNS) <= set(_columns(store, k))]
    except Exception as err:  # PyTables raises HDF5ExtError, OSError, ValueError, ...
        raise _unreadable(path, err) from err
    if len(matching) == 1:
        return matching[0]
    raise ValueError(
        f"{path}: cannot decide which HDF key holds the LHCO table (keys: {keys}); "
        "set data.lhco.key in the config"
    )


def _unreadable(path: Path, err: Exception) -> InputFileError:
    """A named error for an HDF5 file PyTables cannot read (truncated, corrupt, not HDF5)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "truncated" in str(err):
        cause = "the file is truncated (an interrupted download or copy?)"
    elif "signature" in str(err) or "not an HDF5" in str(err):
        cause = "it is not an HDF5 file"
    else:
        cause = f"it cannot be read as a pandas HDF5 table ({type(err).__name__}: {text})"
    return InputFileError(
        f"{path}: {cause}; the LHCO reader expects the R&D features file written by "
        "pandas.to_hdf: download or copy it again (delete it to let the download rule refetch)"
    )


def _columns(store: pd.HDFStore, key: str) -> list[str]:
    storer = store.get_storer(key)
    try:
        return [str(c) for c in store.select(key, stop=1).columns]
    except (TypeError, ValueError, AttributeError):
        return list(getattr(storer, "non_index_axes", [[None, []]])[0][1])


def read_lhco(
    path: str | os.PathLike, key: str | None = None, *, require_label: bool = True
) -> pd.DataFrame:
    """Read an LHCO-format HDF5 file and validate its columns.

    Parameters
    ----------
    path
        File written with ``pandas.DataFrame.to_hdf``, e.g.
        ``events_anomalydetection_v2.features.h5``.
    key
        HDF key; discovered when ``None``.
    require_label
        Fail when the ``label`` column is absent (needed for injection and evaluation).

    Returns
    -------
    pandas.DataFrame
        The 14 kinematic columns as float64 (and ``label`` when present), in LHCO order.
    """
    path = check_input_file(
        path, "LHCO file", "set data.lhco.events / data.lhco.extra_background or enable download"
    )
    key = key or find_key(path)
    try:
        df = pd.read_hdf(path, key=key)
    except KeyError as err:
        raise ValueError(
            f"{path}: no HDF key '{key}' ({err}); fix data.lhco.key (a per-file key: "
            "data.lhco.key: {events: ..., extra_background: ...}, or null to discover it)"
        ) from err
    except Exception as err:  # truncated or corrupt file
        raise _unreadable(path, err) from err
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{path}: key '{key}' holds a {type(df).__name__}, not a table")
    df.columns = [str(c) for c in df.columns]
    wanted = list(LHCO_COLUMNS if require_label else RAW_COLUMNS)
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: missing columns {missing} under key '{key}'; an LHCO features file has "
            f"the columns {list(LHCO_COLUMNS)} (label: 1 signal, 0 background, which the "
            "workflow needs for injection, the baselines and the SIC curves)"
        )
    if len(df) == 0:
        raise InputFileError(
            f"{path}: key '{key}' holds a table with 0 rows; an LHCO file needs events: copy "
            "it again, or point data.lhco.events / data.lhco.extra_background at the right file"
        )
    keep = [c for c in LHCO_COLUMNS if c in df.columns]
    out = df[keep].astype(np.float64).reset_index(drop=True)
    if "label" in out:
        bad = ~np.isin(out["label"].to_numpy(), (0.0, 1.0))
        if bad.any():
            raise ValueError(
                f"{path}: column 'label' must be 0 (background) or 1 (signal); "
                f"{int(bad.sum())} rows have other values"
            )
    return out


def write_lhco(df: pd.DataFrame, path: str | os.PathLike, key: str = "df") -> None:
    """Write ``df`` in the exact LHCO layout (15 float64 columns, pandas fixed format).

    The file appears atomically: a failure leaves any earlier file untouched.
    """
    missing = [c for c in LHCO_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"write_lhco: table lacks columns {missing}")
    table = df[list(LHCO_COLUMNS)].astype(np.float64).reset_index(drop=True)
    with atomic_path(path) as tmp:
        table.to_hdf(tmp, key=key, mode="w", format="fixed")
