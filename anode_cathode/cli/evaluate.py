"""Evaluation steps: per-window metrics and plots, and the run summary."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from anode_cathode.cli.common import add_config, get_config
from anode_cathode.data.io import atomic_path, read_attrs, read_table, read_tables, write_tables

log = logging.getLogger(__name__)


def _write_csv(df: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def _bands_to_tables(bands) -> dict[str, pd.DataFrame]:
    return {f"{m}__{c}": pd.DataFrame(b) for (m, c), b in bands.items()}


def _tables_to_bands(tables) -> dict:
    return {
        tuple(k.split("__")): {c: v.to_numpy() for c, v in t.items()} for k, t in tables.items()
    }


def cmd_evaluate(args: argparse.Namespace) -> None:
    from anode_cathode.evaluation.plots import plot_roc, plot_sic
    from anode_cathode.evaluation.summary import curve_bands, seed_metrics

    cfg = get_config(args)
    ev = cfg["evaluation"]
    tests = {}
    for path in args.scores:
        a = read_attrs(path)
        tests[(a["method"], a["classifier"], int(a["seed"]))] = read_table(path, "test")
    per_seed, curves = seed_metrics(tests, ev)
    per_seed.insert(0, "window", args.window)
    per_seed.insert(0, "inj", args.inj)
    bands = curve_bands(curves, ev["band"])
    out = Path(args.out_dir)
    _write_csv(per_seed, out / "metrics.csv")
    write_tables(out / "curves.h5", _bands_to_tables(bands), {"window": args.window})
    title = f"{cfg['run']}: {args.window}, {args.inj}"
    plot_sic(bands, title, out / "sic.png")
    plot_roc(bands, title, out / "roc.png")


def closure_markdown(paths: list[str], threshold: float) -> str:
    """Markdown table of the sideband-flow closure AUC per window."""
    import json

    lines = [
        "",
        "## Sideband flow closure",
        "",
        "Classifier two-sample test, SB data vs flow samples at the same mjj: AUC 0.5 means",
        f"indistinguishable, 1.0 fully separable; above {threshold:g} the flow is flagged.",
        "",
        "| window | closure AUC | events | best val. loss | best epochs |",
        "|---|---|---|---|---|",
    ]
    for path in paths:
        c = json.loads(Path(path).read_text())
        flag = " (poor)" if c["closure_auc"] > threshold else ""
        lines.append(
            f"| {c['window']} | {c['closure_auc']:.3f}{flag} | {c['n_events']} | "
            f"{c['best_val_loss']:.4f} | {', '.join(map(str, c['best_epochs']))} |"
        )
    return "\n".join(lines) + "\n"


def cmd_summarize(args: argparse.Namespace) -> None:
    from anode_cathode.evaluation.plots import plot_roc, plot_sic
    from anode_cathode.evaluation.summary import summarize, summary_markdown

    cfg = get_config(args)
    ev = cfg["evaluation"]
    per_seed = pd.concat([pd.read_csv(p) for p in args.metrics], ignore_index=True)
    summary = summarize(per_seed, ev["band"])
    out = Path(args.out_dir)
    _write_csv(per_seed, out / "metrics_per_seed.csv")
    _write_csv(summary, out / "summary.csv")
    text = summary_markdown(summary, ev["band"], f"anode-cathode run '{cfg['run']}'")
    if args.closure:
        text += closure_markdown(args.closure, cfg["diagnostics"]["auc_threshold"])
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(text)
    bands = _tables_to_bands(read_tables(args.curves))
    window = read_attrs(args.curves)["window"]
    inj = per_seed["inj"].iloc[0]
    note = f"{window}, {inj}"
    for fmt in ("png", "pdf"):
        plot_sic(bands, f"run '{cfg['run']}'", out / f"sic.{fmt}", note=note)
    plot_roc(bands, f"run '{cfg['run']}': {note}", out / "roc.png")
    print(text)


def cmd_injection_scan(args: argparse.Namespace) -> None:
    from anode_cathode.evaluation.injection import plot_max_sic_vs_sb, scan_table

    cfg = get_config(args)
    per_seed = pd.concat([pd.read_csv(p) for p in args.metrics], ignore_index=True)
    table = scan_table(per_seed, cfg["evaluation"]["band"])
    out = Path(args.out_dir)
    _write_csv(per_seed, out / "metrics_per_run.csv")
    _write_csv(table, out / "max_sic_vs_sb.csv")
    window = per_seed["window"].iloc[0]
    for fmt in ("png", "pdf"):
        plot_max_sic_vs_sb(table, f"run '{cfg['run']}': {window}", out / f"max_sic_vs_sb.{fmt}")
    print(table.to_string(index=False))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="ROC/SIC of all methods in one window")
    add_config(p)
    p.add_argument("--scores", nargs="+", required=True, help="score files from 'train'")
    p.add_argument("--window", required=True)
    p.add_argument("--inj", required=True, help="injection tag")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("summarize", help="summary tables and the run's SIC/ROC plots")
    add_config(p)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every window")
    p.add_argument("--curves", required=True, help="curves.h5 of the reference window")
    p.add_argument("--closure", nargs="*", default=[], help="flow closure.json per window")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("injection-scan", help="max SIC vs S/B over injections (CATHODE figure)")
    add_config(p)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.csv per injection")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_injection_scan)
