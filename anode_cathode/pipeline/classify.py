"""Classifier step: train one method's classifier on one window and seed, score the events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from anode_cathode.config import config_hash
from anode_cathode.core.files import PathArg
from anode_cathode.data.io import read_attrs, read_tables, write_tables
from anode_cathode.data.regions import Window

__all__ = ["train"]


def train(
    cfg: Mapping[str, Any],
    split_file: PathArg,
    method: str,
    classifier: str,
    seed: int,
    samples: Sequence[PathArg] | None,
    out: PathArg,
    threads: int,
) -> None:
    """Train ``method`` with ``classifier`` (k-fold when it trains on data) and write the
    test-set scores and, with k >= 2, the out-of-fold scores of every data event.

    ``samples``: CATHODE's flow samples, one file per fold (from the SB flow that did not see
    that fold).
    """
    from anode_cathode.classifiers import classifier_params, make_classifier
    from anode_cathode.methods import fit_and_score

    attrs = read_attrs(split_file)
    window = Window.from_dict(attrs["window"])
    tables = read_tables(split_file)
    if samples:
        per_fold = [read_tables(p)["samples"] for p in samples]
        tables["samples"] = per_fold[0] if len(per_fold) == 1 else per_fold
    params = classifier_params(cfg, classifier)

    def factory(random_state: int):
        return make_classifier(
            classifier, params, random_state=random_state, n_threads=threads, device=cfg["device"]
        )

    scores, info = fit_and_score(
        method, tables, window, cfg["features"], factory, cfg["splits"]["folds"], seed
    )
    out_attrs = {
        "method": method,
        "classifier": classifier,
        "seed": seed,
        "window": window.to_dict(),
        "window_name": window.name,
        "features": cfg["features"],
        "config_hash": config_hash(cfg, "features", "splits", classifier),
        "info": info,
    }
    write_tables(out, scores, out_attrs)
