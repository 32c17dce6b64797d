"""The whole chain of one window in one process: split, flows, CATHODE samples, ANODE scores,
classifiers, cuts and fits.

The calibration runs this chain on tens to thousands of background-only data sets. As separate
workflow jobs a window costs nine process start-ups (about 4.5 s of imports each on one CPU
core, more than half of a calibration-sized window's work); here it costs one. The steps are the
functions the per-step jobs call, with the same arguments, so a window's results do not depend
on which way it ran (tests/test_chain.py). The intermediate files live in a temporary directory
that is removed afterwards: a null data set keeps only its bump-hunt results.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from anode_cathode.core.files import PathArg
from anode_cathode.core.registry import DENSITY, METHODS, classifiers_for

log = logging.getLogger(__name__)

__all__ = ["window_chain"]


@contextlib.contextmanager
def _timed(window_name: str, step: str, times: dict[str, float]) -> Iterator[None]:
    """Log and record the wall time of one step (the per-step profile of a chain job)."""
    start = time.perf_counter()
    yield
    times[step] = time.perf_counter() - start
    log.info("%s: %s took %.1f s", window_name, step, times[step])


def _combo_parts(combo: str) -> tuple[str, str]:
    """``cathode_bdt`` -> (``cathode``, ``bdt``); ANODE's combo is ``anode_density``."""
    method, clf = combo.rsplit("_", 1)
    if method not in METHODS:
        raise ValueError(f"window chain: unknown method '{method}' in '{combo}'")
    return method, clf


def window_chain(
    cfg: Mapping[str, Any],
    dataset: PathArg,
    window_name: str,
    combos: Sequence[str],
    outs: Sequence[PathArg],
    threads: int,
    spurious: PathArg | None = None,
) -> None:
    """Run every step of one window on ``dataset`` and write the bump-hunt results.

    Parameters
    ----------
    cfg
        The full configuration (every step reads its own sections).
    dataset
        The data set (``inject`` or ``null-dataset`` output).
    window_name
        The window, e.g. ``sr3300-3700``.
    combos
        ``method_classifier`` names of the bump hunts (``anode_density`` for ANODE); only
        their methods are trained.
    outs
        Bump-hunt results (JSON), one per combo. No spectrum plots are drawn: nobody looks
        at those of a null data set.
    threads
        CPU threads of every step.
    spurious
        The calibration's independent background sample, scored by every model.
    """
    from anode_cathode.pipeline import bumphunt, classify, data, density

    if len(combos) != len(outs):
        raise ValueError(f"window chain: {len(combos)} combos but {len(outs)} output files")
    parts = [_combo_parts(c) for c in combos]
    methods = list(dict.fromkeys(m for m, _ in parts))
    folds = list(range(cfg["splits"]["folds"]))
    seeds = list(cfg["seeds"])
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=f"chain-{window_name}-") as tmp:
        work = Path(tmp)
        split = work / "split.h5"
        with _timed(window_name, "split", times):
            data.split(cfg, window_name, dataset, split)

        samples = None
        flows_sb = [work / f"flow_sb/fold{f}/model.pt" for f in folds]
        if any(METHODS[m].needs_flows for m in methods):
            if "cathode" in methods:
                samples = [work / f"cathode/fold{f}/samples.h5" for f in folds]
            with _timed(window_name, "SB flows and CATHODE samples", times):
                density.train_flows(
                    cfg, split, "sb", folds, [0], flows_sb, threads, samples=samples
                )

        scores: dict[tuple[str, str], list[Path]] = {}
        if "anode" in methods:
            flows_sr = [work / f"flow_sr/seed{s}/fold{f}/model.pt" for s in seeds for f in folds]
            with _timed(window_name, "ANODE SR flows", times):
                for i, seed in enumerate(seeds):
                    own = flows_sr[i * len(folds) : (i + 1) * len(folds)]
                    density.train_flows(cfg, split, "sr", folds, [seed], own, threads)
            outs_anode = [work / f"anode/{DENSITY}/seed{s}/scores.h5" for s in seeds]
            with _timed(window_name, "ANODE scores", times):
                density.score_anode(
                    cfg, split, flows_sb, flows_sr, seeds, outs_anode, spurious=spurious
                )
            scores["anode", DENSITY] = outs_anode

        for method in methods:
            if method == "anode":
                continue
            for clf in classifiers_for(method, cfg["classifiers"]):
                files = [work / f"{method}/{clf}/seed{s}/scores.h5" for s in seeds]
                with _timed(window_name, f"{method} {clf}", times):
                    classify.train(
                        cfg,
                        split,
                        method,
                        clf,
                        seeds,
                        samples if method == "cathode" else None,
                        files,
                        threads,
                        spurious=spurious,
                    )
                scores[method, clf] = files

        with _timed(window_name, "cuts and fits", times):
            for part, out in zip(parts, outs, strict=True):
                if part not in scores:
                    raise ValueError(
                        f"window chain: no scores for {'_'.join(part)}: is its classifier in "
                        "the config's classifiers?"
                    )
                bumphunt.bumphunt_window(cfg, scores[part], out, plot=None)
    log.info(
        "%s: chain done (%d bump hunts, %.1f s in its steps)",
        window_name,
        len(outs),
        sum(times.values()),
    )
