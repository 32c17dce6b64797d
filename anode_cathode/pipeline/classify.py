"""Classifier step: train one method's classifier on one window for its seeds, score the events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from anode_cathode.config import config_hash
from anode_cathode.core.files import PathArg
from anode_cathode.core.registry import METHODS
from anode_cathode.core.seeds import replica_key
from anode_cathode.data.io import read_attrs, read_tables, write_tables
from anode_cathode.data.pseudo import read_spurious
from anode_cathode.data.regions import Window

__all__ = ["train"]


def train(
    cfg: Mapping[str, Any],
    split_file: PathArg,
    method: str,
    classifier: str,
    seeds: Sequence[int],
    samples: Sequence[PathArg] | None,
    outs: Sequence[PathArg],
    threads: int,
    score_data: bool = True,
    spurious: PathArg | None = None,
) -> None:
    """Train ``method`` with ``classifier`` (k-fold when it trains on data) once per seed and
    write each seed's test-set scores and, with ``score_data``, the scores of the data events
    (out of fold when the method trains on data) to ``outs`` (one file per seed).

    The window's tables are read once for all seeds: one process per (window, method,
    classifier) instead of one per seed saves the start-up and the HDF5 reads.
    ``samples``: CATHODE's flow samples, one file per fold (from the SB flow that did not see
    that fold). ``score_data=False`` skips the data events when no bump hunt reads them.
    ``spurious``: the calibration's independent background sample (with a random fold per
    event); its events in the window's range are scored beside the data.
    """
    from anode_cathode.classifiers import classifier_params, make_classifier
    from anode_cathode.methods import fit_and_score

    if len(seeds) != len(outs):
        raise ValueError(f"{len(seeds)} seeds but {len(outs)} output files: give one per seed")
    attrs = read_attrs(split_file)
    window = Window.from_dict(attrs["window"])
    tables = read_tables(split_file)
    if spurious is not None and score_data:
        tables["spurious"] = read_spurious(spurious, cfg["features"], window)
    if samples:
        per_fold = [read_tables(p)["samples"] for p in samples]
        tables["samples"] = per_fold[0] if len(per_fold) == 1 else per_fold
    params = classifier_params(cfg, classifier)

    def factory(random_state: int):
        return make_classifier(
            classifier, params, random_state=random_state, n_threads=threads, device=cfg["device"]
        )

    section = METHODS[method].options
    method_keys = [section] if section else []
    for seed, out in zip(seeds, outs, strict=True):
        scores, info = fit_and_score(
            method,
            tables,
            window,
            cfg["features"],
            factory,
            cfg["splits"]["folds"],
            seed,
            score_data=score_data,
            method_options=cfg[section] if section else None,
            stream_key=replica_key(attrs.get("injection"), "classifier", cfg["bands"]["vary"]),
        )
        out_attrs = {
            "method": method,
            "classifier": classifier,
            "seed": seed,
            "window": window.to_dict(),
            "window_name": window.name,
            "features": cfg["features"],
            "config_hash": config_hash(cfg, "features", "splits", classifier, *method_keys),
            "info": info,
        }
        write_tables(out, scores, out_attrs)
