# Config helpers and target lists (windows x methods x classifiers x seeds).
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

from anode_cathode.config import ConfigError, check_config
from anode_cathode.core.files import OutputError, check_writable
from anode_cathode.core.provenance import source_hash
from anode_cathode.core.runlock import claim_workdir
from snakemake.exceptions import WorkflowError
from anode_cathode.core.registry import (
    CLASSIFIERS,
    DENSITY,
    METHODS,
    classifier_methods,
    classifiers_for,
    wildcard_pattern,
)
from anode_cathode.data.regions import windows_from_config
from anode_cathode.data.tags import injection_from_tag, injection_tag


# the cross-key checks: one line naming the key, never a traceback
try:
    check_config(config, RAW_CONFIG)
except ConfigError as err:
    sys.exit(f"anode-cathode: {err}")

RES = f"results/{config['run']}"

# Resume after a kill with the same command: the main process holds the run lock, clears the
# stale Snakemake lock and the temporary files that dead runs left (anode_cathode.core.runlock).
if workflow.is_main_process:
    try:
        check_writable(RES)
    except OutputError as err:
        sys.exit(f"anode-cathode: {err}")
    for line in claim_workdir(os.getcwd(), [RES, "data"]):
        print(f"anode-cathode: {line}", file=sys.stderr)
# With --use-conda every job runs in an environment made from environment.yml; its post-deploy
# script installs this package from ANODE_CATHODE_SRC.
CONDA_ENV = "../envs/anode-cathode.yaml"
os.environ.setdefault("ANODE_CATHODE_SRC", workflow.basedir)
INJ = injection_tag(config)
WINDOWS = [w.name for w in windows_from_config(config)]
CLASSIFIER_METHODS = classifier_methods(config["methods"])


def reference_window():
    """Window whose plots appear at the top of results/<run>/: the one nearest windows.sr."""
    lo, hi = config["windows"]["sr"]
    return min(
        windows_from_config(config), key=lambda w: abs(w.center - 0.5 * (lo + hi))
    ).name


def gpus_present():
    """Number of CUDA GPUs on this machine (nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines())


def gpu_per_job():
    """gpu resource of the GPU rules: 1 where jobs get a GPU, else 0 (they run on the CPU)."""
    if config["device"] == "cpu" or config["gpu_jobs"] == "never":
        return 0
    if config["gpu_jobs"] == "always":
        return 1
    return 1 if gpus_present() else 0


# The profiles cap the gpu resource so that GPU jobs run one per device; with gpu=0 the rules
# run on the CPU, in parallel.
GPU = gpu_per_job()


# the random steps that follow the injection seed (only `vary` reaches the jobs, so that
# adding injection seeds to `bands` reruns nothing)
BANDS_VARY = {"vary": config["bands"]["vary"]}


#: Hash of the package's sources, in every step's params: a code update reruns the steps.
CODE_VERSION = source_hash()


def cfg_json(*sections, **overrides):
    """JSON of the config sections a step uses: its params, so that editing another section
    does not rerun it (and the code version, so that updating the package does)."""
    part = {k: config[k] for k in sections}
    part.update(overrides)
    part["code_version"] = CODE_VERSION
    return json.dumps(part, sort_keys=True)


def inj_cfg(wildcards, *sections):
    """Step config with the injection given by the {inj} wildcard."""
    return cfg_json(*sections, injection=injection_from_tag(wildcards.inj))


def window_dir(inj=INJ, window="{window}"):
    return f"{RES}/{inj}/{window}"


def score_files(inj, window):
    files = expand(
        f"{RES}/{inj}/{window}/{{method}}/{{clf}}/seed{{seed}}/scores.h5",
        method=CLASSIFIER_METHODS,
        clf=config["classifiers"],
        seed=config["seeds"],
    )
    for method in set(config["methods"]) - set(CLASSIFIER_METHODS):  # ANODE: no classifier
        files += expand(
            f"{RES}/{inj}/{window}/{method}/{DENSITY}/seed{{seed}}/scores.h5", seed=config["seeds"]
        )
    return files


def fold_files(inj, window, pattern):
    """One file per fold (``{fold}`` in ``pattern``) under the window's directory."""
    return expand(f"{RES}/{inj}/{window}/{pattern}", fold=range(config["splits"]["folds"]))


def window_fold_files(pattern):
    """Output pattern of a per-window job: one file per fold, {inj} and {window} left as
    wildcards (and any other wildcard written with double braces in ``pattern``)."""
    return expand(
        f"{RES}/{{{{inj}}}}/{{{{window}}}}/{pattern}", fold=range(config["splits"]["folds"])
    )


def folds_arg():
    """All fold numbers as one command-line argument list (one job per window)."""
    return " ".join(str(f) for f in range(config["splits"]["folds"]))


def spurious_input(wildcards=None):
    """The calibration's spurious-signal sample, which every selection is also applied to."""
    if config["calibration"]["enabled"] and config["bumphunt"]["enabled"]:
        return {"spurious": SPURIOUS}
    return {}


def classifier_inputs(wildcards):
    inputs = {"split": f"{RES}/{wildcards.inj}/{wildcards.window}/split.h5"}
    inputs.update(spurious_input())
    if wildcards.method == "cathode":
        inputs["samples"] = fold_files(
            wildcards.inj, wildcards.window, "cathode/fold{fold}/samples.h5"
        )
    return inputs


def method_section(wildcards):
    """The method's own config section, for the methods that have one (CWoLa)."""
    section = METHODS[wildcards.method].options
    return [section] if section else []


def samples_arg(wildcards, input):
    """``--samples`` with the CATHODE sample files (one per fold), or nothing."""
    return files_arg("--samples", input.samples) if "samples" in input.keys() else ""


def uses_flows():
    return any(METHODS[m].needs_flows for m in config["methods"])


def uses_cathode():
    return "cathode" in config["methods"]


def cathode_section():
    """The config section of CATHODE's sampling, when CATHODE runs (a train_flow param)."""
    return ["cathode"] if uses_cathode() else []


def files_arg(option, files):
    """``option`` followed by the quoted ``files``, or nothing when there are none."""
    files = [files] if isinstance(files, str) else list(files)
    return f"{option} " + " ".join(shlex.quote(f) for f in files) if files else ""


def closure_files(inj):
    if not uses_flows():
        return []
    return expand(f"{RES}/{inj}/{{window}}/flow_sb/diagnostics/closure.json", window=WINDOWS)


SOURCE = config["data"]["source"]
LHCO = config["data"]["lhco"]


def lhco_key(path):
    return "events" if path == LHCO["events"] else "extra_background"


def feature_inputs(wildcards):
    if SOURCE == "builtin":
        return {
            "events": rules.generate_builtin.output.events,
            "extra": rules.generate_builtin.output.extra,
        }
    if SOURCE == "lhco":
        files = {"events": LHCO["events"]}
        if LHCO["extra_background"]:
            files["extra"] = LHCO["extra_background"]
        return files
    root = config["data"]["root"]
    from anode_cathode.data.root import expand_files

    # globs must match existing files; plain paths may be made by a rule (example_ntuples)
    files = []
    for entry in root["files"] + root["extra_background_files"]:
        files += expand_files([entry]) if any(c in entry for c in "*?[") else [entry]
    return {"root": files}


def feature_args(wildcards, input):
    if SOURCE == "root":
        return ""
    args = f"--events {input.events}"
    if "extra" in input.keys():
        args += f" --extra {input.extra}"
    return args


# background-only data set with the same seeds: the bump hunt's null check
NULL_INJ = injection_tag({"injection": {**config["injection"], "n_signal": 0, "s_over_b": None}})


#: Injected data sets (n1000-s0, sb0.003-s1); the calibration's pseudo-data are null<k>.
INJECTION_TAG = r"(n|sb)[0-9.eE+-]+-s[0-9]+"
SPURIOUS = f"{RES}/calibration/spurious.h5"


def null_tags(first, count):
    """Tags of the calibration's background-only pseudo-data sets first .. first+count-1."""
    return [f"null{k}" for k in range(first, first + count)]


#: The smooth model of the data that smoothed pseudo-data are drawn from (flow, spectrum).
SMOOTHING = [
    f"{RES}/calibration/smoothing/flow.pt",
    f"{RES}/calibration/smoothing/spectrum.json",
]


def pseudo_data_inputs(wildcards):
    """Inputs of the pseudo-data rules: the run's feature tables (which the bootstrap of
    labelled input resamples), or the observed data set and its smooth model."""
    kind = config["calibration"]["pseudo_data"]
    if kind == "smoothed":
        return {"observed": f"{RES}/{INJ}/dataset.h5", "smoothing": SMOOTHING}
    if kind == "generator" or (kind == "auto" and SOURCE == "builtin"):
        return {}
    return {"features": f"{RES}/features.h5"}


def pseudo_data_args(wildcards, input):
    """--features / --observed / --smoothing of the pseudo-data rules."""
    args = [
        files_arg(f"--{key}", input.get(key, [])) for key in ("features", "observed", "smoothing")
    ]
    return " ".join(a for a in args if a)


def bumphunt_methods():
    return config["bumphunt"]["methods"] or config["methods"]


def bumphunt_combos():
    """method_classifier names of the bump hunts (ANODE has no classifier: 'density')."""
    return [
        f"{m}_{c}" for m in bumphunt_methods() for c in classifiers_for(m, config["classifiers"])
    ]


def seeds_arg():
    """The training seeds as one command-line argument list (one job trains all seeds)."""
    return " ".join(str(s) for s in config["seeds"])


def score_data_arg():
    """Data events are scored only for the bump hunt (the evaluation reads the test set)."""
    return "--score-data" if config["bumphunt"]["enabled"] else "--no-score-data"


def bumphunt_scores(inj, window, combo):
    """Score files (one per seed) of one method_classifier ``combo`` in a window."""
    if not config["bumphunt"]["enabled"]:
        raise WorkflowError(
            "the bump hunt (targets bumphunt_*, null_check) needs the data events' scores, "
            "which are computed only with bumphunt.enabled: true; set it in the config"
        )
    method, clf = combo.rsplit("_", 1)
    return expand(
        f"{RES}/{inj}/{window}/{method}/{clf}/seed{{seed}}/scores.h5", seed=config["seeds"]
    )


def window_combo_files(pattern):
    """Output pattern of the per-window bump hunt: one file per method_classifier."""
    return expand(f"{RES}/{{{{inj}}}}/{{{{window}}}}/{pattern}", combo=bumphunt_combos())


def bumphunt_window_args(wildcards, output):
    """--scores <seed files> --out <json> --plot <png>, one group per method and classifier."""
    groups = []
    for combo, out, plot in zip(bumphunt_combos(), output.json, output.plot):
        scores = " ".join(shlex.quote(f) for f in bumphunt_scores(wildcards.inj, wildcards.window, combo))
        groups.append(f"--scores {scores} --out {shlex.quote(out)} --plot {shlex.quote(plot)}")
    return " ".join(groups)


def bumphunt_window_files(inj):
    return expand(
        f"{RES}/{inj}/{{window}}/bumphunt/{{combo}}.json",
        window=WINDOWS,
        combo=bumphunt_combos(),
    )


def calibration_files(first, count):
    """Bump-hunt results of the null data sets first .. first+count-1 (target calibrate)."""
    if not config["calibration"]["enabled"]:
        raise WorkflowError(
            "the target calibrate needs calibration.enabled: true (every model then also "
            "scores the spurious-signal sample); set it in the config"
        )
    return [f for tag in null_tags(first, count) for f in bumphunt_window_files(tag)]


def injection_scan_tags():
    """Injection tags of the `injection_scan` target: every S/B point times every seed."""
    scan = config["injection_scan"]
    return [
        injection_tag({"injection": {"n_signal": None, "s_over_b": sb, "seed": seed}})
        for sb in scan["s_over_b"]
        for seed in scan["seeds"]
    ]


def linearity_files():
    """Bump-hunt results of the `linearity` target's data sets: every S/B times every seed."""
    if not config["bumphunt"]["enabled"]:
        raise WorkflowError(
            "the target linearity needs bumphunt.enabled: true (it fits the signal in the "
            "bump hunt's spectra); set it in the config"
        )
    lin = config["linearity"]
    tags = [
        injection_tag({"injection": {"n_signal": None, "s_over_b": sb, "seed": seed}})
        for sb in lin["s_over_b"]
        for seed in lin["seeds"]
    ]
    return [f for tag in tags for f in bumphunt_window_files(tag)]


def bands_files():
    """Reference-window metrics of the `bands` target: the configured injection with every
    seed of `bands.injection_seeds`, each a replica of the whole chain."""
    tags = [
        injection_tag({"injection": {**config["injection"], "seed": seed}})
        for seed in config["bands"]["injection_seeds"]
    ]
    return [f"{RES}/{tag}/{reference_window()}/eval/metrics.csv" for tag in tags]


def all_targets():
    targets = [
        f"{RES}/summary.md",
        f"{RES}/summary.csv",
        f"{RES}/sic.png",
        f"{RES}/roc.png",
    ]
    targets += expand(f"{RES}/{INJ}/{{window}}/eval/sic.png", window=WINDOWS)
    if config["bumphunt"]["enabled"]:
        targets += [f"{RES}/bumphunt/{INJ}/pvalues.md"]
    return targets
