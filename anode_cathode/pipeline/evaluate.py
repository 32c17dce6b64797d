"""Evaluation steps: per-window metrics and plots, the run summary, the injection scan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from anode_cathode.core.files import PathArg, write_text
from anode_cathode.data.io import read_attrs, read_table, read_tables, write_csv, write_tables

__all__ = ["evaluate_window", "injection_scan", "summarize"]


def evaluate_window(
    cfg: Mapping[str, Any], scores: Sequence[PathArg], window: str, inj: str, out_dir: PathArg
) -> None:
    """ROC/SIC metrics of every method, classifier and seed in one window, with plots."""
    from anode_cathode.evaluation.plots import plot_roc, plot_sic
    from anode_cathode.evaluation.summary import bands_to_tables, curve_bands, seed_metrics

    ev = cfg["evaluation"]
    tests = {}
    for path in scores:
        a = read_attrs(path)
        tests[(a["method"], a["classifier"], int(a["seed"]))] = read_table(path, "test")
    per_seed, curves = seed_metrics(tests, ev)
    per_seed.insert(0, "window", window)
    per_seed.insert(0, "inj", inj)
    bands = curve_bands(curves, ev["band"])
    out = Path(out_dir)
    write_csv(per_seed, out / "metrics.csv")
    write_tables(out / "curves.h5", bands_to_tables(bands), {"window": window})
    title = f"{cfg['run']}: {window}, {inj}"
    plot_sic(bands, title, out / "sic.png")
    plot_roc(bands, title, out / "roc.png")


def summarize(
    cfg: Mapping[str, Any],
    metrics: Sequence[PathArg],
    curves: PathArg,
    closure: Sequence[PathArg],
    out_dir: PathArg,
) -> str:
    """Summary tables (median and band over seeds), the run's SIC/ROC plots; returns the
    Markdown summary."""
    from anode_cathode.evaluation.closure import closure_markdown
    from anode_cathode.evaluation.plots import plot_roc, plot_sic
    from anode_cathode.evaluation.summary import bands_from_tables, summarize, summary_markdown

    ev = cfg["evaluation"]
    per_seed = pd.concat([pd.read_csv(p) for p in metrics], ignore_index=True)
    summary = summarize(per_seed, ev["band"])
    out = Path(out_dir)
    write_csv(per_seed, out / "metrics_per_seed.csv")
    write_csv(summary, out / "summary.csv")
    text = summary_markdown(summary, ev["band"], f"anode-cathode run '{cfg['run']}'")
    if closure:
        diag = cfg["diagnostics"]
        text += closure_markdown(closure, diag["auc_threshold"], diag["closure_min_pvalue"])
    write_text(out / "summary.md", text)
    bands = bands_from_tables(read_tables(curves))
    note = f"{read_attrs(curves)['window']}, {per_seed['inj'].iloc[0]}"
    for fmt in ("png", "pdf"):
        plot_sic(bands, f"run '{cfg['run']}'", out / f"sic.{fmt}", note=note)
    plot_roc(bands, f"run '{cfg['run']}': {note}", out / "roc.png")
    return text


def injection_scan(cfg: Mapping[str, Any], metrics: Sequence[PathArg], out_dir: PathArg) -> str:
    """Max SIC vs injected S/B over all injections (the CATHODE figure); returns the table."""
    from anode_cathode.evaluation.injection import plot_max_sic_vs_sb, scan_table

    per_seed = pd.concat([pd.read_csv(p) for p in metrics], ignore_index=True)
    table = scan_table(per_seed, cfg["evaluation"]["band"])
    out = Path(out_dir)
    write_csv(per_seed, out / "metrics_per_run.csv")
    write_csv(table, out / "max_sic_vs_sb.csv")
    window = per_seed["window"].iloc[0]
    for fmt in ("png", "pdf"):
        plot_max_sic_vs_sb(table, f"run '{cfg['run']}': {window}", out / f"max_sic_vs_sb.{fmt}")
    return table.to_string(index=False)


def full_bands(cfg: Mapping[str, Any], metrics: Sequence[PathArg], out_dir: PathArg) -> str:
    """Median and band of every metric pooled over injection seeds and training seeds (target
    ``bands``): ``summary.md``/``summary.csv`` and ``metrics_per_run.csv``; returns the
    Markdown table."""
    from anode_cathode.evaluation.summary import summarize, summary_markdown

    ev = cfg["evaluation"]
    per_run = pd.concat([pd.read_csv(p) for p in metrics], ignore_index=True)
    n_inj = per_run["inj"].nunique()
    if n_inj < 2:
        raise ValueError(
            f"bands: {n_inj} injected data set(s); bands.injection_seeds needs at least two"
        )
    summary = summarize(per_run.drop(columns="inj"), ev["band"])
    vary = ", ".join(cfg["bands"]["vary"]) or "none"
    title = (
        f"anode-cathode run '{cfg['run']}': bands over {n_inj} injection seeds "
        f"(injected events; own streams for: {vary}) times the training seeds"
    )
    text = summary_markdown(summary, ev["band"], title, over="injection x training seeds")
    out = Path(out_dir)
    write_csv(per_run, out / "metrics_per_run.csv")
    write_csv(summary, out / "summary.csv")
    write_text(out / "summary.md", text)
    return text
