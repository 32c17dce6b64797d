"""Wall time of whole workflow runs from scratch, per rule, with the sensitivity they reach.

Run ``python benchmarks/workflow_timing.py`` from the repository root. Each case runs the
workflow in a fresh temporary directory (nothing reused between repeats) with
``snakemake --cores N`` and is timed end to end, best of ``--repeat``:

* ``default``: ``configs/default.yaml`` (target ``all``);
* ``scan``: ``configs/scan.yaml``, the injected data set with its bump hunt (target ``all``);
* ``null``: one background-only data set of ``configs/calibration.yaml`` (target ``null_check``,
  the per-step jobs with every plot, as a person would look at it);
* ``ensemble_set``: one null data set of that config as the calibration ensemble makes it
  (``null0``: its generation, the spurious-signal sample and one ``window-chain`` job per
  window);
* ``lhco``: ``configs/lhco.yaml``, the paper settings with 10 seeds, on the LHCO files (for a
  GPU machine; needs the files under ``data/lhco`` or network access to Zenodo);
* ``lhco_builtin``: the same settings on the built-in generator at LHCO scale (1M background,
  100k signal events), the same amount of training without the files, for machines that
  cannot reach Zenodo.

``--extra-config`` adds config files after each case's own (Snakemake merges them key by key),
for example ``flow: {train_precision: bfloat16}`` or GPU batch sizes, to time a setting
against the shipped one.

From the fastest repeat it prints the time per rule (sum and maximum over the rule's jobs, from
the ``benchmark:`` files), then one table of all cases with the reference numbers measured
before the speed work (``REFERENCE``) beside the new ones, and the sensitivity the runs reach
(max SIC and SIC at FPR 10⁻² per method with their seed bands, the flow closure AUC, CATHODE's
local Z at the 1 % cut of the scan), so that a speed-up is never read without its physics.
Machines are shared and noisy: compare ratios from one run of this script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]

#: Per case: config, Snakemake target, what it measures, the time before the speed work and the
#: target (seconds) on the project's 2-core machine.
CASES = {
    "default": ("configs/default.yaml", "all", "default run", "288-361 (5-5.5 min)", 120),
    "scan": ("configs/scan.yaml", "all", "one data set of configs/scan.yaml", "1200-1500", 360),
    "null": ("configs/calibration.yaml", "null_check", "one background-only data set", "-", 60),
    "ensemble_set": (
        "configs/calibration.yaml",
        "null0",  # expanded to the bump-hunt results of null0 (ensemble_targets)
        "one null data set of the calibration ensemble",
        "-",
        60,
    ),
    # paper settings, 10 seeds: for a GPU machine (needs the LHCO files under data/lhco)
    "lhco": ("configs/lhco.yaml", "all", "configs/lhco.yaml (GPU)", "not measured", 600),
    "lhco_builtin": (
        "configs/lhco.yaml",
        "all",
        "configs/lhco.yaml on the built-in generator (GPU)",
        "not measured",
        600,
    ),
}

#: Config overlays a case adds after its config file.
CASE_OVERLAYS = {"lhco_builtin": "data:\n  source: builtin\n"}
DEFAULT_CASES = ["default", "scan", "null"]


def run_case(
    name: str,
    cores: int,
    workdir: Path,
    dry_run: bool = False,
    extra_configs: Sequence[Path] = (),
) -> float:
    """Run one case from scratch in ``workdir``; wall seconds (raises if the run fails).

    ``extra_configs`` are merged after the case's config (and its overlay, if any).

    ``dry_run``: ``snakemake -n`` only, the start-up that every run pays before its first job
    (imports, plugins, DAG). On a machine with a SLURM client whose controller does not answer,
    the SLURM executor plugin waits there for ``scontrol`` (about 9-10 s) even for local runs.
    """
    config, target, *_ = CASES[name]
    targets = ensemble_targets(config, target) if name == "ensemble_set" else [target]
    configs = [REPO / config]
    if name in CASE_OVERLAYS:
        overlay = workdir / f"{name}.overlay.yaml"
        overlay.write_text(CASE_OVERLAYS[name])
        configs.append(overlay)
    configs += [Path(p).resolve() for p in extra_configs]
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        *(str(p) for p in configs),
        "--cores",
        str(cores),
        "--quiet",
        *(["-n"] if dry_run else []),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall


def ensemble_targets(config: str, tag: str) -> list[str]:
    """The bump-hunt results of null data set ``tag`` in every window of ``config`` (one file
    per window: its ``window-chain`` job writes every method's)."""
    import yaml

    from anode_cathode.config import load_config
    from anode_cathode.data.regions import windows_from_config

    cfg = load_config(yaml.safe_load((REPO / config).read_text()))
    method = (cfg["bumphunt"]["methods"] or cfg["methods"])[0]
    clf = "density" if method == "anode" else cfg["classifiers"][0]
    return [
        f"results/{cfg['run']}/{tag}/{w.name}/bumphunt/{method}_{clf}.json"
        for w in windows_from_config(cfg)
    ]


def rule_times(workdir: Path) -> pd.DataFrame:
    """Jobs, summed and maximum seconds and peak memory per rule from the ``benchmark:`` files."""
    rows = []
    for path in (workdir / "results").rglob("*.benchmark.tsv"):
        bench = pd.read_csv(path, sep="\t")
        rule = path.name.removesuffix(".benchmark.tsv")
        parts = path.relative_to(workdir / "results").parts
        # the rule is identified by the directory layout (e.g. flow_sb/fold0/train)
        kind = "/".join(p for p in parts[2:-1] if not p.startswith(("fold", "seed", "sr")))
        rows.append(
            {
                "rule": f"{kind}/{rule}".strip("/"),
                "s": bench["s"].iloc[0],
                "max_rss_mb": bench["max_rss"].iloc[0],
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return (
        df.groupby("rule")
        .agg(
            jobs=("s", "size"),
            sum_s=("s", "sum"),
            max_s=("s", "max"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .sort_values("sum_s", ascending=False)
    )


def sensitivity(workdir: Path) -> dict[str, str]:
    """Max SIC, SIC at FPR 1e-2 (median and band) per method/classifier, closure AUC, local Z."""
    out: dict[str, str] = {}
    for summary in (workdir / "results").glob("*/summary.csv"):
        df = pd.read_csv(summary)
        prefix = ""
        if df.window.nunique() > 1:  # a scan: the window where the signal is (best max SIC)
            best = df.groupby("window").max_sic.median().idxmax()
            df, prefix = df[df.window == best], f"{best} "
        for _, r in df.iterrows():
            key = f"{prefix}{r['method']} {r['classifier']}"
            fpr = "sic_at_fpr_0.01"
            text = f"max SIC {r['max_sic']:.1f} [{r['max_sic_lo']:.1f}, {r['max_sic_hi']:.1f}]"
            if fpr in df:
                text += f", SIC@1e-2 {r[fpr]:.1f} [{r[fpr + '_lo']:.1f}, {r[fpr + '_hi']:.1f}]"
            out[key] = text
    aucs = []
    for closure in (workdir / "results").rglob("closure.json"):
        aucs.append(pd.read_json(closure, typ="series")["closure_auc"])
    if aucs:
        out["flow closure AUC (max over windows)"] = f"{max(aucs):.3f}"
    for pvalues in (workdir / "results").glob("*/bumphunt/*/pvalues.csv"):
        df = pd.read_csv(pvalues)
        sel = df[(df.method == "cathode") & (df.efficiency == 0.01)]
        for _, r in sel.iterrows():
            out[f"CATHODE {r['classifier']} local Z at 1 % ({pvalues.parent.name})"] = (
                f"{r['local_z']:.2f} in {r['best_window']}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=DEFAULT_CASES)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directories here")
    parser.add_argument(
        "--extra-config",
        type=Path,
        nargs="+",
        default=[],
        help="config files merged after every case's own (a setting to time)",
    )
    args = parser.parse_args(argv)
    for path in args.extra_config:
        if not path.is_file():
            parser.error(f"--extra-config: {path} is not a file")
    if args.extra_config:
        print(f"extra config: {', '.join(str(p) for p in args.extra_config)}")

    results = []
    for name in args.cases:
        best, best_dir = float("inf"), None
        for i in range(args.repeat):
            root = args.keep or Path(tempfile.mkdtemp(prefix="ac-bench-"))
            workdir = root / f"{name}-{i}"
            workdir.mkdir(parents=True, exist_ok=True)
            wall = run_case(name, args.cores, workdir, extra_configs=args.extra_config)
            print(f"{name} run {i + 1}/{args.repeat}: {wall:.0f} s", flush=True)
            if wall < best:
                best, best_dir = wall, workdir
        times = rule_times(best_dir)
        dry = Path(tempfile.mkdtemp(prefix="ac-dry-"))
        startup = run_case(name, args.cores, dry, True, args.extra_config)
        print(f"\n{name}: per rule, fastest run ({best:.0f} s wall; Snakemake start-up before")
        print(f"the first job, from a dry run: {startup:.1f} s)\n")
        print(times.round(1).to_string() if not times.empty else "(no benchmark files)")
        for key, value in sensitivity(best_dir).items():
            print(f"  {key}: {value}")
        results.append((name, best))

    print(f"\n| what | before (s) | now, best of {args.repeat} (s) | target (s) |")
    print("|---|---|---|---|")
    for name, best in results:
        _, _, what, before, target = CASES[name]
        mark = "" if best <= target else " (above target)"
        print(f"| {what} | {before} | {best:.0f}{mark} | ≤ {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
