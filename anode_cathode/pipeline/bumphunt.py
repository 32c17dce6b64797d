"""Bump-hunt steps: cuts and fits per window, then the scan with global p-values."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.bumphunt.calibration import per_dataset_z, result_rows
from anode_cathode.bumphunt.plots import (
    plot_local_z,
    plot_pvalue_uniformity,
    plot_sculpting,
    plot_spectrum,
)
from anode_cathode.bumphunt.report import pvalue_markdown
from anode_cathode.bumphunt.scan import FitFailure, MethodScan, null_pvalues, scan_method
from anode_cathode.bumphunt.scores import mean_data_scores
from anode_cathode.bumphunt.window import CutResult, SpuriousSample, window_bumphunt_per_cut
from anode_cathode.core.files import PathArg, write_json, write_text
from anode_cathode.data.io import write_csv

__all__ = ["bumphunt_scan", "bumphunt_window", "bumphunt_windows", "injection_linearity"]

log = logging.getLogger(__name__)


def _labels(data: Any) -> np.ndarray | None:
    """Truth labels of the data events, where every event has one (else ``None``)."""
    if "label" not in data:
        return None
    label = data["label"].to_numpy(dtype=np.float64)
    return label if np.all(np.isfinite(label)) else None


def bumphunt_window(
    cfg: Mapping[str, Any], scores: Sequence[PathArg], out: PathArg, plot: PathArg | None
) -> None:
    """Score cuts, sideband fits and local Z of one window, method and classifier.

    Parameters
    ----------
    cfg
        The configuration (its ``bumphunt`` section is used).
    scores
        Score files of the window, method and classifier, one per training seed.
    out
        Results (JSON): one entry per cut whose fit succeeded, and the errors of the others.
    plot
        Spectra with fits (PNG); ``None`` draws none (null data sets of the calibration).

    Raises
    ------
    ValueError
        Every cut's fit failed (the JSON with the errors is written first).
    """
    bh = cfg["bumphunt"]
    data, window, method, clf, spurious = mean_data_scores(scores)
    mjj = data["mjj"].to_numpy()
    results, errors = window_bumphunt_per_cut(
        mjj,
        data["score"].to_numpy(),
        data["fold"].to_numpy(),
        window,
        tuple(bh["fit_range"]),
        bh["bin_width"],
        bh["efficiencies"],
        bh["alpha"],
        bh["fit_model"],
        exact_below=bh["exact_below"],
        spurious=_spurious_sample(spurious, mjj, bh["fit_range"]),
        label=_labels(data),
    )
    for err in errors:
        log.error("%s", err["error"])
    for r in results:
        log.info(
            "%s %s/%s keep %g: n=%d b=%.1f±%.1f Z=%.2f (%d-par fit, gof p=%.3f)",
            window.name,
            method,
            clf,
            r.efficiency,
            r.n_obs,
            r.b,
            r.sigma_b,
            r.z,
            r.n_params,
            r.gof_pvalue,
        )
    write_json(
        out,
        {
            "window": window.name,
            "method": method,
            "classifier": clf,
            "n_seeds": len(scores),
            "results": [r.to_dict() for r in results],
            "errors": errors,
        },
    )
    if not results:
        raise ValueError(f"{window.name}: every bump-hunt fit failed: {errors}")
    if plot is not None:
        plot_spectrum(results, plot, title=f"{method} ({clf}), {window.name}")


def _spurious_sample(
    spurious: pd.DataFrame | None, data_mjj: Any, fit_range: Sequence[float]
) -> SpuriousSample | None:
    """The independent background sample, scaled by its size over the data's in the fit range."""
    if spurious is None:
        return None
    lo, hi = fit_range
    mjj = spurious["mjj"].to_numpy()
    n_data = int(((data_mjj >= lo) & (data_mjj < hi)).sum())
    n_spurious = int(((mjj >= lo) & (mjj < hi)).sum())
    if n_data == 0 or n_spurious == 0:
        return None
    return SpuriousSample(
        mjj, spurious["score"].to_numpy(), spurious["fold"].to_numpy(), n_spurious / n_data
    )


def bumphunt_windows(
    cfg: Mapping[str, Any],
    scores: Sequence[Sequence[PathArg]],
    outs: Sequence[PathArg],
    plots: Sequence[PathArg],
) -> None:
    """:func:`bumphunt_window` for several methods and classifiers of one window in one process.

    ``scores[i]`` (the seed files of one method and classifier) gives ``outs[i]`` and
    ``plots[i]``.
    """
    if not len(scores) == len(outs) == len(plots):
        raise ValueError(
            f"bumphunt-window: {len(scores)} --scores groups, {len(outs)} --out and "
            f"{len(plots)} --plot: give one --out and one --plot after each --scores group"
        )
    for group, out, plot in zip(scores, outs, plots, strict=True):
        bumphunt_window(cfg, group, out, plot)


def _load(paths: Sequence[PathArg]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Window results grouped by (method, classifier)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in paths:
        d = json.loads(Path(path).read_text())
        groups[(d["method"], d["classifier"])].append(d)
    return groups


def bumphunt_scan(
    cfg: Mapping[str, Any], inputs: Sequence[PathArg], inj: str, out_dir: PathArg
) -> str:
    """Scan of all windows: local Z plots, global p-values, the null check and the tables.

    Writes ``pvalues.csv``, ``pvalues.md``, ``pvalue_uniformity.png`` and per method and
    classifier ``local_z_<method>_<clf>.png`` and ``sculpting_<method>_<clf>.png`` to
    ``out_dir``.

    Parameters
    ----------
    cfg
        The configuration (``run`` and the ``bumphunt`` section are used).
    inputs
        Results of :func:`bumphunt_window`, every window, method and classifier.
    inj
        Injection tag of the data set, for titles.
    out_dir
        Output folder.

    Returns
    -------
    str
        The Markdown table (the content of ``pvalues.md``).
    """
    bh = cfg["bumphunt"]
    out = Path(out_dir)
    scans: list[MethodScan] = []
    groups = _load(inputs)
    for (method, clf), items in sorted(groups.items()):
        results = [CutResult.from_dict(r) for d in items for r in d["results"]]
        failures = [
            FitFailure(d["window"], e["efficiency"], e["error"]) for d in items for e in d["errors"]
        ]
        scan = scan_method(
            method,
            clf,
            results,
            failures,
            bh["efficiencies"],
            n_toys=bh["n_toys"],
            seed=bh["seed"],
            pybumphunter=bh["pybumphunter"],
        )
        scans.append(scan)
        plot_local_z(
            results, out / f"local_z_{method}_{clf}.png", method=method, global_p=scan.global_p
        )
        plot_sculpting(results, out / f"sculpting_{method}_{clf}.png", title=f"{method} ({clf})")
    table = pd.DataFrame([row for scan in scans for row in scan.rows])
    write_csv(table, out / "pvalues.csv")
    rows = [r for items in groups.values() for d in items for r in result_rows(inj, d)]
    after_cuts = per_dataset_z(pd.DataFrame(rows), column="z_signed")
    ks = plot_pvalue_uniformity(
        null_pvalues(scans),
        out / "pvalue_uniformity.png",
        label=f"{inj}: all methods, windows and cuts",
    )
    text = pvalue_markdown(table, cfg["run"], inj, ks, after_cuts)
    write_text(out / "pvalues.md", text)
    return text


def injection_linearity(cfg: Mapping[str, Any], inputs: Sequence[PathArg], out_dir: PathArg) -> str:
    """Fitted vs true signal over the injected data sets (target ``linearity``).

    Writes ``points.csv`` (one row per data set, window, method, classifier and cut),
    ``linearity.csv`` / ``linearity.md`` (straight-line fits) and ``linearity.png`` to
    ``out_dir``; returns the Markdown table.
    """
    from anode_cathode.bumphunt.linearity import (
        fit_linearity,
        linearity_markdown,
        linearity_points,
        plot_linearity,
    )

    out = Path(out_dir)
    points = linearity_points(inputs, cfg["linearity"]["signal_width"])
    fits = fit_linearity(points)
    mass = ""
    if cfg["data"]["source"] == "builtin":
        from anode_cathode.data.generate import GeneratorParams

        params = GeneratorParams.from_dict(cfg["data"]["builtin"]["params"])
        mass = f", W' mass {params.signal_mass_tev:g} TeV"
    text = linearity_markdown(fits, f"Injection linearity, run '{cfg['run']}'{mass}")
    write_csv(points, out / "points.csv")
    write_csv(fits, out / "linearity.csv")
    write_text(out / "linearity.md", text)
    plot_linearity(points, fits, out / "linearity.png")
    return text
