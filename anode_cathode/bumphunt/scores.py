"""Out-of-fold anomaly scores of the data events, averaged over training seeds."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from anode_cathode.data.io import read_attrs, read_table
from anode_cathode.data.regions import Window

__all__ = ["DataScores", "mean_data_scores"]


class DataScores(NamedTuple):
    """Data events (``mjj``, ``fold``, ``label``, ``score``) of one window, method, classifier,
    and the independent background sample's events (``mjj``, ``fold``, ``score``) when the
    score files have them (``None`` otherwise)."""

    data: pd.DataFrame
    window: Window
    method: str
    classifier: str
    spurious: pd.DataFrame | None = None


def mean_data_scores(paths: Sequence[str | os.PathLike]) -> DataScores:
    """Data scores averaged over training seeds.

    Every seed's fold-f model left out fold f, so the average is still out of fold.

    Parameters
    ----------
    paths
        Score files of one window, method and classifier, one per seed (table ``data``).

    Returns
    -------
    DataScores
        The events of the first file with the mean score; window, method and classifier from
        its attributes.

    Raises
    ------
    ValueError
        A file without out-of-fold data scores (fewer than 2 folds) or with other events.
    """
    tables = []
    for path in paths:
        try:
            tables.append(read_table(path, "data"))
        except KeyError as err:
            raise ValueError(
                f"{path}: no out-of-fold data scores; the bump hunt needs splits.folds >= 2"
            ) from err
    base = tables[0]
    for t, path in zip(tables[1:], paths[1:], strict=True):
        if len(t) != len(base) or not np.array_equal(t["fold"], base["fold"]):
            raise ValueError(f"{path}: data events differ from {paths[0]}")
    out = base[["mjj", "fold", "label"]].copy()
    out["score"] = np.mean([t["score"].to_numpy() for t in tables], axis=0)
    attrs = read_attrs(paths[0])
    window = Window.from_dict(attrs["window"])
    return DataScores(out, window, attrs["method"], attrs["classifier"], _spurious(paths))


def _spurious(paths: Sequence[str | os.PathLike]) -> pd.DataFrame | None:
    """The independent background sample's scores, averaged over seeds (None if absent)."""
    try:
        tables = [read_table(path, "spurious") for path in paths]
    except KeyError:
        return None
    out = tables[0][["mjj", "fold"]].copy()
    out["score"] = np.mean([t["score"].to_numpy() for t in tables], axis=0)
    return out
