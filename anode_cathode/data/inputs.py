"""Read the configured input (built-in, LHCO files or ROOT ntuples) into feature tables."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.data.features import compute_features
from anode_cathode.data.lhco import read_lhco
from anode_cathode.data.selection import select_events

__all__ = ["read_inputs"]

log = logging.getLogger(__name__)


def _root_tables(root: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    from anode_cathode.data.root import read_root

    common = {
        "tree": root["tree"],
        "branches": root["branches"],
        "jets": root["jets"],
        "momentum": root["momentum"],
        "unit_scale": root["unit_scale"],
        "step_size": root["step_size"],
    }
    events = read_root(root["files"], label=root["label"], **common)
    extra = None
    if root["extra_background_files"]:
        extra = read_root(root["extra_background_files"], label=None, **common)
        extra["label"] = 0.0
    return events, extra


#: Plausible medians in GeV: dijet masses of a dijet search, and fat-jet masses.
MJJ_RANGE_GEV = (100.0, 50_000.0)
JET_MASS_RANGE_GEV = (0.5, 5_000.0)


def _unit_fix(data: Mapping[str, Any]) -> str:
    if data["source"] == "root":
        scale = data["root"]["unit_scale"]
        return f"data.root.unit_scale (now {scale}; 0.001 converts MeV to GeV, 1000 TeV to GeV)"
    return "the input file: the LHCO format stores momenta and masses in GeV"


def _named(key: str, paths: Any) -> str:
    """``key (file, file, …)``: the config key and the files it names (the first three)."""
    paths = [str(p) for p in ([paths] if isinstance(paths, str) else paths or [])]
    more = f", … {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"ROOT files {key} ({', '.join(paths[:3])}{more})"


def _check_not_empty(raw: pd.DataFrame, source: str) -> None:
    if len(raw) == 0:
        raise ValueError(f"{source}: the input holds 0 events; point the config at the data files")


def _selected(raw: pd.DataFrame, data: Mapping[str, Any], source: str) -> pd.DataFrame:
    """:func:`~anode_cathode.data.selection.select_events`; an error if nothing is left."""
    out = select_events(raw, data["max_delta_y"], source=source)
    if len(out) == 0:
        raise ValueError(
            f"{source}: no event passes the selection (every tau_N > 0, |delta y| < "
            f"data.max_delta_y = {data['max_delta_y']}); loosen data.max_delta_y or check the "
            "substructure columns"
        )
    return out


def _check_units(features: pd.DataFrame, source: str, unit_fix: str) -> None:
    """Fail at read time when the energies are not in GeV (feature masses are in TeV)."""
    m_jet = np.concatenate([features["mj1"], features["mj1"] + features["delta_mj"]])
    for what, tev, (lo, hi) in (
        ("m_JJ", features["mjj"].to_numpy(), MJJ_RANGE_GEV),
        ("jet mass", m_jet, JET_MASS_RANGE_GEV),
    ):
        med = 1000.0 * float(np.nanmedian(tev))
        if not lo <= med <= hi:
            raise ValueError(
                f"{source}: median {what} is {med:.4g} GeV, outside the range {lo:g}-{hi:g} GeV "
                f"expected for dijet events in GeV; the units are wrong: fix {unit_fix}"
            )


def read_inputs(
    cfg: Mapping[str, Any], events_path: str | None = None, extra_path: str | None = None
) -> dict[str, pd.DataFrame]:
    """Feature tables ``events`` (labelled, full spectrum) and ``extra`` (true background).

    ``events_path``/``extra_path`` are LHCO-format files (built-in generator output or the LHCO
    files); ROOT inputs are taken from ``cfg['data']['root']``. ``extra`` is empty when the input
    has no independent background sample.
    """
    data = cfg["data"]
    if data["source"] == "root":
        raw, raw_extra = _root_tables(data["root"])
        source = _named("data.root.files", data["root"]["files"])
        extra_source = _named(
            "data.root.extra_background_files", data["root"]["extra_background_files"]
        )
    else:
        if events_path is None:
            raise ValueError(f"data.source '{data['source']}' needs an events file")
        key = data["lhco"]["key"] if data["source"] == "lhco" else None
        keys = key if isinstance(key, Mapping) else {"events": key, "extra_background": key}
        raw = read_lhco(events_path, key=keys.get("events"))
        raw_extra = read_lhco(extra_path, key=keys.get("extra_background")) if extra_path else None
        source, extra_source = str(events_path), str(extra_path)
    unit_fix = _unit_fix(data)
    _check_not_empty(raw, source)
    raw = _selected(raw, data, source)
    events = compute_features(raw, source=source)
    _check_units(events, source, unit_fix)
    if raw_extra is not None:
        _check_not_empty(raw_extra, extra_source)
        raw_extra = _selected(raw_extra, data, extra_source)
        extra = compute_features(raw_extra, source=extra_source)
        _check_units(extra, extra_source, unit_fix)
        if "label" in extra and (extra["label"] != 0).any():
            n = int((extra["label"] != 0).sum())
            log.warning(
                "%s: dropping %d events labelled as signal from the extra background",
                extra_source,
                n,
            )
            extra = extra[extra["label"] == 0].reset_index(drop=True)
        extra["label"] = 0.0
    else:
        extra = pd.DataFrame({c: np.zeros(0) for c in events.columns})
    log.info(
        "read %d events (%d signal) and %d extra background events",
        len(events),
        int(events["label"].sum()),
        len(extra),
    )
    return {"events": events, "extra": extra}
