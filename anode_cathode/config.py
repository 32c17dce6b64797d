"""Configuration: one JSON schema with defaults (shared with Snakemake's ``validate``) plus the
checks a schema cannot express (window ordering, ranges, method requirements)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ConfigError",
    "check_config",
    "config_hash",
    "load_config",
    "schema_path",
    "sr_flow_config",
    "validate_config",
]


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key and the fix."""


def schema_path() -> Path:
    """Path of ``config.schema.yaml`` (shipped in the package, symlinked from workflow/schemas)."""
    return Path(__file__).with_name("config.schema.yaml")


@cache
def _schema() -> dict[str, Any]:
    with open(schema_path()) as f:
        return yaml.safe_load(f)


def _validator():
    from jsonschema import Draft202012Validator, validators

    base = Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(base, {"properties": set_defaults})(_schema())


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate against the schema and return a copy with every default filled in."""
    from jsonschema import ValidationError

    cfg = copy.deepcopy(dict(config))
    try:
        # validate twice: defaults inserted by the first pass are validated by the second
        _validator().validate(cfg)
        _validator().validate(cfg)
    except ValidationError as err:
        key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
        raise ConfigError(f"config key '{key}': {err.message}") from None
    return cfg


def _ordered_pair(cfg: Mapping[str, Any], key: str, pair: list[float] | None) -> None:
    if pair is not None and not pair[0] < pair[1]:
        raise ConfigError(f"config key '{key}': need low < high, got {pair}")


def check_config(cfg: Mapping[str, Any], raw: Mapping[str, Any] | None = None) -> None:
    """Checks across keys; ``cfg`` has defaults filled, ``raw`` is the user's config as given."""
    from anode_cathode.data.regions import windows_from_config

    raw = raw or {}
    inj_raw = raw.get("injection", {}) or {}
    if inj_raw.get("s_over_b") is not None and inj_raw.get("n_signal") is not None:
        raise ConfigError(
            "config keys 'injection.n_signal' and 'injection.s_over_b' are both set; keep one"
        )
    win = cfg["windows"]
    _ordered_pair(cfg, "windows.sr", win["sr"])
    _ordered_pair(cfg, "windows.sideband", win["sideband"])
    scan = win["scan"]
    if scan is not None:
        if not scan["start"] < scan["stop"]:
            raise ConfigError("config key 'windows.scan': need start < stop")
        if scan["start"] + scan["width"] > scan["stop"] + 1e-9:
            raise ConfigError("config key 'windows.scan.width': wider than start..stop")
    windows = windows_from_config(cfg)
    sb = win["sideband"]
    if sb is not None:
        for w in windows:
            if w.sr_lo - win["cwola_width"] < sb[0] or w.sr_hi + win["cwola_width"] > sb[1]:
                raise ConfigError(
                    f"config key 'windows.sideband': window {w.name} with its CWoLa strips "
                    f"({w.sr_lo - win['cwola_width']:.3g}-{w.sr_hi + win['cwola_width']:.3g} TeV) "
                    f"lies outside the sideband range {sb}"
                )
    _check_bumphunt(cfg, windows)
    _check_calibration(cfg)
    data = cfg["data"]
    if data["source"] == "builtin":
        rng = data["builtin"]["extra_mjj_range"]
        _ordered_pair(cfg, "data.builtin.extra_mjj_range", rng)
        if data["builtin"]["n_extra_background"] > 0:
            outside = [
                w.name for w in windows if w.sr_lo < rng[0] - 1e-9 or w.sr_hi > rng[1] + 1e-9
            ]
            if outside:
                raise ConfigError(
                    f"config key 'data.builtin.extra_mjj_range': {rng} does not cover the signal "
                    f"regions of windows {outside}; widen it (the idealized detector and the test "
                    "set need true background there)"
                )
    if data["source"] == "root":
        root = data["root"]
        if not root["files"]:
            raise ConfigError("config key 'data.root.files': give at least one ROOT file or glob")
        if (root["branches"] is None) == (root["jets"] is None):
            raise ConfigError(
                "config keys 'data.root.branches' / 'data.root.jets': set exactly one "
                "(flat branch mapping or jagged jet collection)"
            )
        if root["label"] is None:
            raise ConfigError(
                "config key 'data.root.label': a label branch (1 signal, 0 background) is needed "
                "for signal injection, the supervised/idealized baselines and SIC curves"
            )
    for key, section in (("flow", cfg["flow"]), ("anode.flow", sr_flow_config(cfg))):
        if section["n_best_epochs"] > section["epochs"]:
            raise ConfigError(
                f"config key '{key}.n_best_epochs': {section['n_best_epochs']} exceeds "
                f"{key}.epochs ({section['epochs']})"
            )
    mlp = cfg["mlp"]
    if mlp["n_best_epochs"] > mlp["epochs"]:
        raise ConfigError(
            f"config key 'mlp.n_best_epochs': {mlp['n_best_epochs']} exceeds mlp.epochs "
            f"({mlp['epochs']})"
        )


def _check_calibration(cfg: Mapping[str, Any]) -> None:
    """The calibration's pre-registered family must name a test the bump hunt makes."""
    cal = cfg["calibration"]
    if cal["enabled"] and not cfg["bumphunt"]["enabled"]:
        raise ConfigError(
            "config key 'calibration.enabled': the calibration needs the bump hunt; set "
            "bumphunt.enabled: true"
        )
    if cal["pseudo_data"] == "generator" and cfg["data"]["source"] != "builtin":
        raise ConfigError(
            "config key 'calibration.pseudo_data': 'generator' needs data.source: builtin; use "
            "auto, bootstrap or smoothed for this input"
        )
    family = cal["family"]
    if family == "all":
        return
    methods = cfg["bumphunt"]["methods"] or cfg["methods"]
    combos = {f"{m}_{c}" for m in methods for c in [*cfg["classifiers"], "density"]}
    combo, _, eff = family.partition("@")
    try:
        ok = combo in combos and any(
            abs(float(eff) - e) < 1e-12 for e in cfg["bumphunt"]["efficiencies"]
        )
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"config key 'calibration.family': {family!r} is not 'all' nor one of the bump "
            "hunt's tests '<method>_<classifier>@<cut>' (e.g. 'cathode_bdt@0.01') with the "
            "method in methods, the classifier in classifiers ('density' for ANODE) and the "
            "cut in bumphunt.efficiencies"
        )


def _check_bumphunt(cfg: Mapping[str, Any], windows: list) -> None:
    bh = cfg["bumphunt"]
    _ordered_pair(cfg, "bumphunt.fit_range", bh["fit_range"])
    lo, hi = bh["fit_range"]
    if bh["enabled"] and cfg["splits"]["folds"] < 2:
        raise ConfigError(
            "config key 'splits.folds': the bump hunt (bumphunt.enabled) needs k >= 2 folds so "
            "that every data event is scored by a model that did not train on it"
        )
    sb = cfg["windows"]["sideband"]
    if sb is not None and (lo < sb[0] - 1e-9 or hi > sb[1] + 1e-9):
        raise ConfigError(
            f"config key 'bumphunt.fit_range': {bh['fit_range']} reaches outside the data kept "
            f"around each window (windows.sideband {sb})"
        )
    for w in windows:
        if bh["enabled"] and (w.sr_lo < lo - 1e-9 or w.sr_hi > hi + 1e-9):
            raise ConfigError(
                f"config key 'bumphunt.fit_range': {bh['fit_range']} does not contain the signal "
                f"region of window {w.name}"
            )
        n_bins = (w.sr_hi - w.sr_lo) / bh["bin_width"]
        if bh["enabled"] and abs(n_bins - round(n_bins)) > 1e-6:
            raise ConfigError(
                f"config key 'bumphunt.bin_width': {bh['bin_width']} does not divide the signal "
                f"region width of window {w.name} ({w.sr_hi - w.sr_lo:g} TeV)"
            )


def sr_flow_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Settings of ANODE's signal-region flow: the sideband flow's, with ``anode.flow`` on top."""
    overrides = cfg["anode"]["flow"]
    if "seed" in overrides:
        raise ConfigError(
            "config key 'anode.flow.seed': signal-region flows take their seeds from 'seeds' "
            "(one flow per training seed); remove it"
        )
    merged = {**cfg["flow"], **overrides}
    try:
        validate_config({"flow": merged})
    except ConfigError as err:
        raise ConfigError(str(err).replace("key 'flow", "key 'anode.flow", 1)) from None
    return merged


def load_config(
    source: str | os.PathLike | Mapping[str, Any] | None, *, check: bool = True
) -> dict[str, Any]:
    """Load a YAML/JSON file, an inline JSON string or a mapping; validate and check it.

    ``check=False`` skips the cross-key checks, for the partial configs the workflow passes
    to each step (the whole config was checked when the workflow started).
    """
    if source is None:
        raw: Mapping[str, Any] = {}
    elif isinstance(source, Mapping):
        raw = source
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        raw = json.loads(source)
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"config file {path} not found")
        with open(path) as f:
            raw = yaml.safe_load(f) or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"config file {path}: top level must be a mapping")
    cfg = validate_config(raw)
    if check:
        check_config(cfg, raw)
    return cfg


def config_hash(cfg: Mapping[str, Any], *sections: str) -> str:
    """Short stable hash of the given sections (all when none), stored as provenance."""
    part = {k: cfg[k] for k in sections} if sections else dict(cfg)
    return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:12]
