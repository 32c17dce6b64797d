"""NanoAOD-like example ntuples made from LHCO-format events, for ``configs/root_example.yaml``.

Each event gets a jagged ``FatJet`` collection (the two jets of the event plus, in a fraction of
events, a soft third jet), stored in random pT order so that the reader's leading-jet selection
is exercised, and an ``is_signal`` label branch.
"""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd

from anode_cathode.core.files import atomic_path

__all__ = ["write_example_ntuples"]


def _jets(df: pd.DataFrame, rng: np.random.Generator) -> ak.Array:
    n = len(df)
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("pt", "eta", "phi", "msoftdrop", "tau1", "tau2", "tau3")
    }
    for j in ("1", "2"):
        px, py, pz = (df[f"{q}j{j}"].to_numpy() for q in ("px", "py", "pz"))
        pt = np.hypot(px, py)
        cols["pt"].append(pt)
        cols["eta"].append(np.arcsinh(pz / pt))
        cols["phi"].append(np.arctan2(py, px))
        cols["msoftdrop"].append(df[f"mj{j}"].to_numpy())
        for t in ("tau1", "tau2", "tau3"):
            cols[t].append(df[f"{t}j{j}"].to_numpy())
    # soft third jet in 30 % of events: below both leading jets in pT
    third = rng.random(n) < 0.3
    pt_min = np.minimum(cols["pt"][0], cols["pt"][1])
    extra = {
        "pt": pt_min * rng.uniform(0.05, 0.5, n),
        "eta": rng.uniform(-2.4, 2.4, n),
        "phi": rng.uniform(-np.pi, np.pi, n),
        "msoftdrop": rng.uniform(5, 60, n),
        "tau1": rng.uniform(0.1, 0.5, n),
    }
    extra["tau2"] = extra["tau1"] * rng.uniform(0.3, 0.9, n)
    extra["tau3"] = extra["tau2"] * rng.uniform(0.5, 0.95, n)
    counts = 2 + third.astype(np.int64)
    # random order of the jets inside each event
    order = np.argsort(
        rng.random((n, 3)) + np.where(third[:, None], 0, np.array([0, 0, 9])), axis=1
    )
    fields = {}
    for key in cols:
        table = np.stack([cols[key][0], cols[key][1], extra[key]], axis=1)
        shuffled = np.take_along_axis(table, order, axis=1)
        flat = shuffled[np.arange(3)[None, :] < counts[:, None]]
        fields[key] = ak.unflatten(flat, counts)
    return ak.zip(fields)


def write_example_ntuples(
    events: pd.DataFrame,
    out_dir: str | os.PathLike,
    n_files: int = 2,
    seed: int = 0,
    prefix: str = "events",
) -> list[Path]:
    """Write ``events`` (LHCO columns with label) as ``n_files`` ROOT files with tree ``Events``."""
    import uproot

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, part in enumerate(np.array_split(np.arange(len(events)), n_files)):
        df = events.iloc[part]
        path = out_dir / f"{prefix}_{i}.root"
        branches = {"FatJet": _jets(df, rng), "is_signal": df["label"].to_numpy().astype(np.int32)}
        with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
            f.mktree(
                "Events",
                {"FatJet": branches["FatJet"].type, "is_signal": np.int32},
                counter_name=lambda counted: f"n{counted}",
                field_name=lambda outer, inner: f"{outer}_{inner}",
            )
            f["Events"].extend(branches)
        paths.append(path)
    return paths
