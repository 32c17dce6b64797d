"""Read the configured input (built-in, LHCO files or ROOT ntuples) into feature tables."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.data.features import compute_features
from anode_cathode.data.lhco import read_lhco

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
        source, extra_source = "ROOT files data.root.files", "data.root.extra_background_files"
    else:
        if events_path is None:
            raise ValueError(f"data.source '{data['source']}' needs an events file")
        key = data["lhco"]["key"] if data["source"] == "lhco" else None
        raw = read_lhco(events_path, key=key)
        raw_extra = read_lhco(extra_path, key=key) if extra_path else None
        source, extra_source = str(events_path), str(extra_path)
    events = compute_features(raw, source=source)
    if raw_extra is not None:
        extra = compute_features(raw_extra, source=extra_source)
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
