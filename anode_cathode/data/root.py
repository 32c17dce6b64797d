"""Physicists' own ROOT ntuples, read with uproot into the LHCO table (docs/data.md).

Two layouts are supported:

* **flat**: one branch (or uproot expression such as ``"jet_px[:, 0]"``) per jet quantity, given
  in Cartesian (``pxj1 … tau3j2``) or polar (``ptj1 etaj1 phij1 mj1 … tau3j2``) form;
* **jagged**: a jet collection (``FatJet_pt``, ``FatJet_eta``, …) from which the two leading jets
  by pT are taken per event; events with fewer than two jets are dropped and counted.

Files are read chunk by chunk with :func:`uproot.iterate`; only the branches the mapping needs are
read and each chunk is turned into a small float64 table at once, so memory stays bounded.

Usage (needs ntuples on disk, so it is not run as a doctest)::

    df = read_root(["ntuple_*.root"], "Events", jets={"pt": "FatJet_pt", ...})
    df.attrs["n_dropped"]  # events with fewer than two jets
"""

from __future__ import annotations

import glob
import logging
import lzma
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import awkward as ak
import numpy as np
import pandas as pd
import uproot
from uproot.language.python import PythonLanguage

from anode_cathode.core.files import InputFileError, check_input_file
from anode_cathode.data.lhco import RAW_COLUMNS

__all__ = ["JET_KEYS", "POLAR_KEYS", "expand_files", "read_root"]

logger = logging.getLogger(__name__)

_JET_Q = ("tau1", "tau2", "tau3")
#: Keys of a flat mapping with ``momentum="polar"`` (GeV; eta and phi unitless).
POLAR_KEYS = tuple(f"{q}j{j}" for j in (1, 2) for q in ("pt", "eta", "phi", "m", *_JET_Q))
#: Keys of a jagged jet-collection mapping.
JET_KEYS = ("pt", "eta", "phi", "mass", *_JET_Q)
_URL_SCHEMES = ("root://", "http://", "https://", "s3://", "xrootd://")
_N_SHOWN = 12  # branches listed in error messages
_ALIAS = "_ac_"  # prefix of the uproot aliases; keeps them apart from branch names


def expand_files(files: Sequence[str]) -> list[str]:
    """Expand paths and glob patterns into a sorted list of distinct files.

    Remote URLs (``root://``, ``https://`` …) are passed through unchecked.

    Raises
    ------
    FileNotFoundError
        When a pattern matches nothing or a plain path does not exist.
    """
    if isinstance(files, (str, os.PathLike)):
        files = [os.fspath(files)]
    if not files:
        raise FileNotFoundError("no ROOT input files given; set data.root.files")
    found: set[str] = set()
    for entry in files:
        pattern = os.path.expanduser(os.fspath(entry))
        if pattern.startswith(_URL_SCHEMES):
            found.add(pattern)
        elif any(c in pattern for c in "*?["):
            matches = [m for m in glob.glob(pattern, recursive=True) if os.path.isfile(m)]
            if not matches:
                raise FileNotFoundError(f"{pattern}: pattern matches no file (data.root.files)")
            found.update(os.path.normpath(m) for m in matches)
        elif os.path.isfile(pattern):
            found.add(os.path.normpath(pattern))
        else:
            raise FileNotFoundError(f"{pattern}: ROOT file not found (data.root.files)")
    return sorted(found)


def _shown(names: Sequence[str]) -> str:
    names = sorted(names)
    more = f" … ({len(names)} in all)" if len(names) > _N_SHOWN else ""
    return ", ".join(names[:_N_SHOWN]) + more


def _branch_names(path: str, tree: str) -> list[str]:
    """Branches of ``tree`` in ``path`` for error messages; empty when unreadable."""
    try:
        with uproot.open(path) as handle:
            return [str(k) for k in handle[tree].keys()]
    except Exception:  # only used to enrich a message; the real checks come later
        return []


def _check_keys(
    mapping: Mapping[str, str], expected: Sequence[str], section: str, path: str, tree: str
) -> None:
    missing = [k for k in expected if k not in mapping]
    unknown = [k for k in mapping if k not in expected]
    empty = [k for k in expected if k in mapping and not str(mapping[k]).strip()]
    if missing or unknown or empty:
        parts = []
        if missing:
            parts.append(f"missing keys {missing} (add data.root.{section}.{missing[0]}: <branch>)")
        if empty:
            parts.append(f"empty branch for keys {empty}")
        if unknown:
            parts.append(f"unknown keys {unknown}")
        raise ValueError(
            f"data.root.{section}: " + "; ".join(parts) + f"; expected exactly the keys "
            f"{list(expected)}, each a branch name or uproot expression; branches of tree "
            f"'{tree}' in {path}: {_shown(_branch_names(path, tree)) or 'unknown'}"
        )


def _tree_names(directory: Any) -> list[str]:
    return sorted(
        name
        for name, cls in directory.classnames(cycle=False).items()
        if "TTree" in cls or "TNtuple" in cls
    )


def _validate_file(path: str, tree: str, exprs: Mapping[str, str]) -> None:
    """Check that ``path`` holds ``tree`` and that every expression only uses its branches."""
    if not path.startswith(_URL_SCHEMES):
        check_input_file(path, f"ROOT file (tree '{tree}')", "fix data.root.files")
    try:
        handle = uproot.open(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: ROOT file not found (tree '{tree}')") from err
    except Exception as err:  # uproot raises several types for corrupt/non-ROOT files
        raise InputFileError(
            f"{path}: not a readable ROOT file ({_first_line(err)}); copy it again "
            "or remove it from data.root.files"
        ) from err
    with handle:
        try:
            obj = handle[tree]
        except OSError as err:  # the directory or tree header lies beyond a cut
            raise _truncated(path, tree, err) from err
        except (KeyError, uproot.DeserializationError) as err:
            raise ValueError(
                f"{path}: no tree '{tree}'; trees in this file: {_tree_names(handle) or 'none'} "
                "(fix data.root.tree)"
            ) from err
        if not isinstance(obj, uproot.behaviors.TBranch.HasBranches):
            kind = getattr(obj, "classname", type(obj).__name__)
            raise ValueError(
                f"{path}: '{tree}' is a {kind}, not a TTree (only TTrees are supported); "
                f"trees in this file: {_tree_names(handle) or 'none'} (fix data.root.tree)"
            )
        names = list(dict.fromkeys([*obj.keys(), *obj.keys(full_paths=False)]))
    language = PythonLanguage()
    for key, expr in exprs.items():
        try:
            language.free_symbols(expr, names, [], path, tree)
        except uproot.KeyInFileError as err:
            raise ValueError(
                f"{path}: tree '{tree}' has no branch '{err.key}' used by data.root.{key} "
                f"= '{expr}'; available branches: {_shown(names)}; fix data.root.{key}"
            ) from err
        except SyntaxError as err:
            raise ValueError(
                f"{path}: data.root.{key} = '{expr}' is not a valid uproot expression "
                f"({str(err.msg).splitlines()[0]}); "
                f"fix data.root.{key}"
            ) from err


def _flat(values: Any, what: str, path: str) -> np.ndarray:
    """One float64 number per event, or a clear error."""
    try:
        out = np.asarray(ak.to_numpy(values, allow_missing=False), dtype=np.float64)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{path}: data.root.{what} does not give one number per event ({err}); select one "
            "element (e.g. 'jet_pt[:, 0]') or use a jet collection (data.root.jets)"
        ) from err
    if out.ndim != 1:
        raise ValueError(f"{path}: data.root.{what} gives shape {out.shape[1:]} per event")
    return out


def _count_bad(bad: dict[str, int], name: str, values: np.ndarray) -> None:
    bad_values = ~np.isfinite(values)
    n = int((bad_values.any(axis=1) if bad_values.ndim == 2 else bad_values).sum())
    if n:
        bad[name] = bad.get(name, 0) + n


def _cartesian(
    q: Mapping[str, np.ndarray], polar: bool, scale: float, bad: dict[str, int], eta: str = ""
) -> dict[str, np.ndarray]:
    """LHCO columns from per-jet arrays keyed ``px/py/pz`` or ``pt/eta/phi``, plus m, tau1..3.

    An overflowing ``pt * sinh(eta)`` (absurd ``|eta|``) is counted in ``bad`` under ``eta``
    (formatted with the jet number).
    """
    out: dict[str, np.ndarray] = {}
    for j in (1, 2):
        if polar:
            pt = q[f"ptj{j}"]
            out[f"pxj{j}"] = pt * np.cos(q[f"phij{j}"])
            out[f"pyj{j}"] = pt * np.sin(q[f"phij{j}"])
            with np.errstate(over="ignore", invalid="ignore"):
                out[f"pzj{j}"] = pt * np.sinh(q[f"etaj{j}"])
            overflow = np.isfinite(q[f"etaj{j}"]) & np.isfinite(pt) & ~np.isfinite(out[f"pzj{j}"])
            if overflow.any():
                name = eta.format(j=j)
                bad[name] = bad.get(name, 0) + int(overflow.sum())
        else:
            for c in ("px", "py", "pz"):
                out[f"{c}j{j}"] = q[f"{c}j{j}"]
        for c in ("m", *_JET_Q):
            out[f"{c}j{j}"] = q[f"{c}j{j}"]
    return {c: out[c] * scale for c in RAW_COLUMNS}


def _leading_first(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Swap jets per event so that jet 1 has the larger pT (the LHCO convention)."""
    swap = np.hypot(cols["pxj2"], cols["pyj2"]) > np.hypot(cols["pxj1"], cols["pyj1"])
    if not swap.any():
        return cols
    out = dict(cols)
    for c in ("px", "py", "pz", "m", *_JET_Q):
        out[f"{c}j1"] = np.where(swap, cols[f"{c}j2"], cols[f"{c}j1"])
        out[f"{c}j2"] = np.where(swap, cols[f"{c}j1"], cols[f"{c}j2"])
    return out


def _chunk_flat(
    arrays: Any, keys: Sequence[str], polar: bool, scale: float, path: str, bad: dict[str, int]
) -> dict[str, np.ndarray]:
    q = {k: _flat(arrays[_ALIAS + k], f"branches.{k}", path) for k in keys}
    for k, v in q.items():
        _count_bad(bad, f"branches.{k}", v)
    return _leading_first(_cartesian(q, polar, scale, bad, "branches.etaj{j}"))


def _chunk_jets(
    arrays: Any, scale: float, path: str, bad: dict[str, int]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two leading jets by pT; returns the columns and the mask of kept events."""
    jets = {k: arrays[_ALIAS + k] for k in JET_KEYS}
    try:
        n_jets = ak.to_numpy(ak.num(jets["pt"], axis=1))
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{path}: data.root.jets.pt is not a jet collection (one list per event): {err}; "
            "use data.root.branches for flat ntuples"
        ) from err
    for k in JET_KEYS[1:]:
        try:
            same = ak.to_numpy(ak.num(jets[k], axis=1)) == n_jets
        except (ValueError, TypeError):
            same = np.zeros(1, dtype=bool)
        if not same.all():
            raise ValueError(
                f"{path}: data.root.jets.{k} does not have one entry per jet of data.root.jets.pt "
                "(branches of different collections?)"
            )
    keep = n_jets >= 2
    pt = jets["pt"][keep]
    n_bad_pt = int((~ak.to_numpy(ak.all(np.isfinite(pt), axis=1))).sum())
    if n_bad_pt:  # checked on every jet: a NaN pT makes the leading-jet choice meaningless
        bad["jets.pt"] = bad.get("jets.pt", 0) + n_bad_pt
    order = ak.argsort(pt, axis=1, ascending=False, stable=True)[:, :2]
    q: dict[str, np.ndarray] = {}
    for k in JET_KEYS:
        two = np.asarray(ak.to_numpy(ak.to_regular(jets[k][keep][order], axis=1)), np.float64)
        two = two.reshape(-1, 2)  # a chunk without kept events gives shape (0, 0)
        if k != "pt":
            _count_bad(bad, f"jets.{k}", two)
        name = "m" if k == "mass" else k
        q[f"{name}j1"], q[f"{name}j2"] = two[:, 0], two[:, 1]
    return _cartesian(q, True, scale, bad, "jets.eta"), keep


def _chunks(
    path: str, tree: str, aliases: Mapping[str, str], step_size: str | int
) -> Iterator[Any]:
    """Chunks of ``tree`` in ``path`` with one field per alias; evaluation errors name the file."""
    try:
        yield from uproot.iterate(
            {path: tree}, list(aliases), aliases=dict(aliases), step_size=step_size, library="ak"
        )
    except (IndexError, ValueError, TypeError) as err:
        raise ValueError(
            f"{path}: evaluating the data.root expressions on tree '{tree}' failed: "
            f"{type(err).__name__}: {err} (an index such as '[:, 1]' beyond the jets of an event?)"
        ) from err
    except (OSError, uproot.DeserializationError) as err:  # e.g. "expected Chunk of length"
        raise _truncated(path, tree, err) from err
    except (zlib.error, lzma.LZMAError) as err:  # a damaged compressed basket mid-file
        raise _truncated(path, tree, err) from err


def _first_line(err: Exception) -> str:
    """``Type: first line`` of an exception: the terminal's last line must stay one line."""
    text = str(err).strip()
    first = text.splitlines()[0].rstrip(",;: ") if text else ""  # uproot's lines end in ','
    return f"{type(err).__name__}: {first}"


def _truncated(path: str, tree: str, err: Exception) -> InputFileError:
    return InputFileError(
        f"{path}: reading tree '{tree}' failed ({_first_line(err)}); the file is "
        "truncated or corrupt: copy it again or remove it from data.root.files"
    )


def _raise_bad(path: str, bad: Mapping[str, int]) -> None:
    if bad:
        detail = ", ".join(f"data.root.{k}: {n} events" for k, n in bad.items())
        raise ValueError(
            f"{path}: non-finite values (NaN/inf, or |eta| so large that pz overflows) in "
            f"{detail}; fix or filter the ntuple before using it"
        )


def _check_label(values: np.ndarray, branch: str, path: str) -> None:
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        shown = np.unique(values[bad])[:5].tolist()
        raise ValueError(
            f"{path}: label branch '{branch}' must be 0 (background) or 1 (signal); "
            f"{int(bad.sum())} events have other values, e.g. {shown} (fix data.root.label)"
        )


def read_root(
    files: Sequence[str],
    tree: str,
    *,
    branches: Mapping[str, str] | None = None,
    jets: Mapping[str, str] | None = None,
    label: str | None = None,
    momentum: Literal["cartesian", "polar"] = "cartesian",
    unit_scale: float = 1.0,
    step_size: str | int = "100 MB",
) -> pd.DataFrame:
    """Read ROOT ntuples into the LHCO table of the two leading jets.

    Parameters
    ----------
    files
        Paths and glob patterns (see :func:`expand_files`).
    tree
        Name (or ``dir/name`` path) of the TTree in every file.
    branches
        Flat layout: maps each quantity (:data:`~anode_cathode.data.lhco.RAW_COLUMNS` for
        ``momentum="cartesian"``, :data:`POLAR_KEYS` for ``"polar"``) to a branch name or an
        uproot expression giving one number per event. Jets are re-ordered by pT per event.
    jets
        Jagged layout: maps :data:`JET_KEYS` (pt, eta, phi, mass, tau1, tau2, tau3) to branches of
        one jet collection; always polar, ``momentum`` is ignored.
    label
        Branch or expression with the truth label (0 background, 1 signal); optional.
    momentum
        Coordinates of a flat mapping.
    unit_scale
        Factor applied to momenta, masses and tau values (e.g. ``0.001`` for MeV ntuples).
    step_size
        Chunk size passed to :func:`uproot.iterate` (entries or a size such as ``"100 MB"``).

    Returns
    -------
    pandas.DataFrame
        The 14 LHCO columns as float64 in GeV (plus ``label``); ``attrs["n_dropped"]`` counts
        events dropped for having fewer than two jets, ``attrs["files"]`` lists the files read.
    """
    if (branches is None) == (jets is None):
        raise ValueError(
            "read_root: give exactly one of data.root.branches (flat ntuple, one branch per jet "
            "quantity) or data.root.jets (jagged jet collection)"
        )
    if momentum not in ("cartesian", "polar"):
        raise ValueError(f"data.root.momentum must be 'cartesian' or 'polar', not {momentum!r}")
    if not np.isfinite(unit_scale) or unit_scale <= 0:
        raise ValueError(f"data.root.unit_scale must be a positive number, not {unit_scale!r}")
    if jets is not None:
        mapping, section, keys = jets, "jets", JET_KEYS
    else:
        assert branches is not None
        keys = POLAR_KEYS if momentum == "polar" else RAW_COLUMNS
        mapping, section = branches, "branches"
    paths = expand_files(files)
    _check_keys(mapping, keys, section, paths[0], tree)
    exprs = {f"{section}.{k}": str(mapping[k]) for k in keys}
    aliases = {_ALIAS + k: str(mapping[k]) for k in keys}
    if label is not None:
        exprs["label"] = label
        aliases[_ALIAS + "label"] = label

    pieces: list[np.ndarray] = []
    n_dropped = 0
    for path in paths:
        _validate_file(path, tree, exprs)
        bad: dict[str, int] = {}
        for arrays in _chunks(path, tree, aliases, step_size):
            if jets is not None:
                cols, keep = _chunk_jets(arrays, unit_scale, path, bad)
                n_dropped += int((~keep).sum())
            else:
                cols = _chunk_flat(arrays, keys, momentum == "polar", unit_scale, path, bad)
                keep = None
            table = [cols[c] for c in RAW_COLUMNS]
            if label is not None:
                lab = _flat(arrays[_ALIAS + "label"], "label", path)
                lab = lab if keep is None else lab[keep]
                _check_label(lab, label, path)
                table.append(lab)
            pieces.append(np.stack(table, axis=1) if table[0].size else np.empty((0, len(table))))
        _raise_bad(path, bad)

    columns = [*RAW_COLUMNS, *(["label"] if label is not None else [])]
    data = np.concatenate(pieces) if pieces else np.empty((0, len(columns)))
    out = pd.DataFrame(data, columns=columns, dtype=np.float64)
    out.attrs["n_dropped"] = n_dropped
    out.attrs["files"] = paths
    if n_dropped:
        logger.warning("%s: dropped %d events with fewer than two jets", tree, n_dropped)
    logger.info("read %d events from %d ROOT file(s), tree '%s'", len(out), len(paths), tree)
    return out
