"""Bump-hunt steps: cuts and fits per window, then the scan with global p-values."""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.cli.common import add_config, get_config
from anode_cathode.data.io import atomic_path, read_attrs, read_table, write_json
from anode_cathode.data.regions import Window

log = logging.getLogger(__name__)


def mean_data_scores(paths: list[str]) -> tuple[pd.DataFrame, Window, str, str]:
    """Data scores averaged over training seeds (every seed's fold-f model left out fold f)."""
    tables, attrs = [], []
    for path in paths:
        a = read_attrs(path)
        try:
            tables.append(read_table(path, "data"))
        except KeyError as err:
            raise ValueError(
                f"{path}: no out-of-fold data scores; the bump hunt needs splits.folds >= 2"
            ) from err
        attrs.append(a)
    base = tables[0]
    for t, path in zip(tables[1:], paths[1:], strict=True):
        if len(t) != len(base) or not np.array_equal(t["fold"], base["fold"]):
            raise ValueError(f"{path}: data events differ from {paths[0]}")
    out = base[["mjj", "fold", "label"]].copy()
    out["score"] = np.mean([t["score"].to_numpy() for t in tables], axis=0)
    a = attrs[0]
    return out, Window.from_dict(a["window"]), a["method"], a["classifier"]


def cmd_bumphunt_window(args: argparse.Namespace) -> None:
    from anode_cathode.bumphunt import window_bumphunt
    from anode_cathode.bumphunt.plots import plot_spectrum

    cfg = get_config(args)
    bh = cfg["bumphunt"]
    data, window, method, clf = mean_data_scores(args.scores)
    results, errors = [], []
    for eff in bh["efficiencies"]:
        try:
            results += window_bumphunt(
                data["mjj"].to_numpy(),
                data["score"].to_numpy(),
                data["fold"].to_numpy(),
                window,
                tuple(bh["fit_range"]),
                bh["bin_width"],
                [eff],
                bh["alpha"],
                bh["fit_model"],
            )
        except ValueError as err:  # a failed fit is reported, never turned into a number
            log.error("%s", err)
            errors.append({"efficiency": eff, "error": str(err)})
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
        args.out,
        {
            "window": window.name,
            "method": method,
            "classifier": clf,
            "n_seeds": len(args.scores),
            "results": [r.to_dict() for r in results],
            "errors": errors,
        },
    )
    if results:
        plot_spectrum(results, args.plot, title=f"{method} ({clf}), {window.name}")
    else:
        raise ValueError(f"{window.name}: every bump-hunt fit failed: {errors}")


def _load(paths: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in paths:
        d = json.loads(Path(path).read_text())
        groups[(d["method"], d["classifier"])].append(d)
    return groups


def _global(results, n_toys: int, seed: int):
    from anode_cathode.bumphunt import background_toys, global_pvalue

    toys = background_toys(results, n_toys, np.random.default_rng(seed))
    observed = max(r.z for r in results)
    return global_pvalue(observed, toys.max_z[np.isfinite(toys.max_z)]), toys


def cmd_bumphunt_scan(args: argparse.Namespace) -> None:
    from scipy.stats import kstest, norm

    from anode_cathode.bumphunt import CutResult, pybumphunter_crosscheck, trials_factor_pvalue
    from anode_cathode.bumphunt.plots import plot_local_z, plot_pvalue_uniformity
    from anode_cathode.bumphunt.sculpting import plot_sculpting

    cfg = get_config(args)
    bh = cfg["bumphunt"]
    out = Path(args.out_dir)
    rows, all_p, uncut = [], [], {}
    for (method, clf), items in sorted(_load(args.inputs).items()):
        results = [CutResult.from_dict(r) for d in items for r in d["results"]]
        failed = [(d["window"], e) for d in items for e in d["errors"]]
        global_p = {}
        for eff in bh["efficiencies"]:
            cut = sorted((r for r in results if r.efficiency == eff), key=lambda r: r.window.center)
            failures = [f"{w}: {e['error']}" for w, e in failed if e["efficiency"] == eff]
            if not cut:
                rows.append(
                    {
                        "method": method,
                        "classifier": clf,
                        "efficiency": eff,
                        "error": "; ".join(failures),
                    }
                )
                continue
            gp, _ = _global(cut, bh["n_toys"], bh["seed"])
            global_p[eff] = gp
            best = max(cut, key=lambda r: r.z)
            p_trials = trials_factor_pvalue(best.p0, len(cut))
            row = {
                "method": method,
                "classifier": clf,
                "efficiency": eff,
                "best_window": best.window.name,
                "n_obs": best.n_obs,
                "b": best.b,
                "sigma_b": best.sigma_b,
                "local_z": best.z,
                "local_p": best.p0,
                "global_p": gp.p,
                "global_p_unc": gp.uncertainty,
                "global_p_upper_limit": gp.upper_limit,
                "global_z": gp.z,
                # beyond the toys' reach (p < ~3/n_toys): the same independence assumption
                "global_p_trials": p_trials,
                "global_z_trials": float(norm.isf(p_trials)),
                "n_windows": len(cut),
                "windows_above_3sigma": sum(r.z >= 3 for r in cut),
                "ks_p_local": float(kstest([r.p_signed for r in cut], "uniform").pvalue)
                if len(cut) > 1
                else float("nan"),
                "error": "; ".join(failures),
            }
            if bh["pybumphunter"]:
                bhr = pybumphunter_crosscheck(
                    best.edges, best.counts, best.expected, seed=bh["seed"]
                )
                row.update(
                    {
                        "pbh_interval": f"{bhr.lo:.2f}-{bhr.hi:.2f}",
                        "pbh_local_z": bhr.local_z,
                        "pbh_global_z": bhr.global_z,
                    }
                )
            rows.append(row)
            if eff >= 1.0:  # the uncut spectrum is the same for every method: count it once
                uncut.update({r.window.name: r.p_signed for r in cut})
            else:
                all_p += [r.p_signed for r in cut]
        plot_local_z(results, out / f"local_z_{method}_{clf}.png", method=method, global_p=global_p)
        plot_sculpting(results, out / f"sculpting_{method}_{clf}.png", title=f"{method} ({clf})")
    table = pd.DataFrame(rows)
    with atomic_path(out / "pvalues.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    ks = plot_pvalue_uniformity(
        all_p + list(uncut.values()),
        out / "pvalue_uniformity.png",
        label=f"{args.inj}: all methods, windows and cuts",
    )
    text = pvalue_markdown(table, cfg["run"], args.inj, ks)
    with atomic_path(out / "pvalues.md") as tmp:
        tmp.write_text(text)
    print(text)


def pvalue_markdown(table: pd.DataFrame, run: str, inj: str, ks: float) -> str:
    lines = [
        f"# Bump hunt, run '{run}', data set {inj}",
        "",
        "Per method and score cut: the most significant window, its local significance (profile",
        "likelihood, background from the sideband dijet fit with its uncertainty) and the global",
        "p-value of the scan from background-only pseudo-experiments (windows treated as",
        "independent: conservative). Global Z (trials): the same look-elsewhere correction in",
        "closed form, 1 - (1 - p_local)^n_windows, which also reaches a strong signal's p-value;",
        "neither counts the choice among cuts and methods. pyBumpHunter: its most significant",
        "interval and global Z on the same spectrum.",
        "",
        "| method | classifier | keep | best window | n_obs | b ± σ_b | local Z | global p |"
        " global Z (trials) | windows ≥ 3σ | pyBumpHunter |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        if pd.isna(r.get("local_z")):
            lines.append(
                f"| {r['method']} | {r['classifier']} | {r['efficiency']:g} | fit failed: "
                f"{r['error']} | | | | | | | |"
            )
            continue
        gp = (
            f"< {r['global_p']:.3g}"
            if r["global_p_upper_limit"]
            else f"{r['global_p']:.3g} ± {r['global_p_unc']:.2g}"
        )
        pbh = (
            f"{r['pbh_interval']} TeV, Z_glob {r['pbh_global_z']:.2f}"
            if "pbh_interval" in r and isinstance(r["pbh_interval"], str)
            else ""
        )
        lines.append(
            f"| {r['method']} | {r['classifier']} | {r['efficiency']:g} | {r['best_window']} | "
            f"{r['n_obs']:.0f} | {r['b']:.1f} ± {r['sigma_b']:.1f} | {r['local_z']:.2f} | {gp} | "
            f"{r['global_z_trials']:.2f} | "
            f"{int(r['windows_above_3sigma'])}/{int(r['n_windows'])} | {pbh} |"
        )
    lines += [
        "",
        f"Null check: KS p-value of all local (signed) p-values against U(0,1): {ks:.3f}",
        "(meaningful on background-only data; see pvalue_uniformity.png).",
    ]
    return "\n".join(lines) + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bumphunt-window", help="score cuts, dijet fits and local Z in one window")
    add_config(p)
    p.add_argument("--scores", nargs="+", required=True, help="score files (one per seed)")
    p.add_argument("--out", required=True, help="results (JSON)")
    p.add_argument("--plot", required=True, help="spectra with fits (PNG)")
    p.set_defaults(func=cmd_bumphunt_window)

    p = sub.add_parser("bumphunt-scan", help="local Z vs window, global p-values, null check")
    add_config(p)
    p.add_argument("--inputs", nargs="+", required=True, help="bumphunt-window results")
    p.add_argument("--inj", required=True, help="injection tag (for titles)")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_bumphunt_scan)
