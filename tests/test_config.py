"""Configuration schema, defaults and cross-key checks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from anode_cathode.config import ConfigError, config_hash, load_config, schema_path
from anode_cathode.data.regions import windows_from_config
from anode_cathode.data.tags import injection_from_tag, injection_tag

REPO = Path(__file__).resolve().parents[1]


def test_defaults_fill_everything():
    cfg = load_config(None)
    assert cfg["run"] == "default"
    assert cfg["windows"]["sr"] == [3.3, 3.7]
    assert cfg["data"]["builtin"]["n_background"] == 1_000_000
    assert cfg["mlp"]["hidden_layers"] == [64, 64, 64]
    assert cfg["injection"]["n_signal"] == 1000


def test_package_schema_is_the_workflow_schema():
    assert schema_path().resolve() == (REPO / "workflow/schemas/config.schema.yaml").resolve()


def test_snakemake_validate_agrees_with_package():
    from snakemake.utils import validate

    raw = {"run": "x", "mlp": {"epochs": 3, "n_best_epochs": 2}}
    cfg = copy.deepcopy(raw)
    validate(cfg, str(REPO / "workflow/schemas/config.schema.yaml"))
    assert cfg == load_config(raw)


@pytest.mark.parametrize(
    "name", ["default.yaml", "tiny.yaml", "lhco.yaml", "root_example.yaml", "scan.yaml"]
)
def test_shipped_configs_are_valid(name):
    load_config(REPO / "configs" / name)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"windows": {"srr": [1, 2]}}, "windows"),
        ({"mlp": {"epochs": "ten"}}, "mlp.epochs"),
        ({"methods": ["cathode", "magic"]}, "methods.1"),
        ({"run": "bad name/with slash"}, "run"),
        ({"injection": {"n_signal": -1}}, "injection.n_signal"),
    ],
)
def test_schema_errors_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_config(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"windows": {"sr": [3.7, 3.3]}}, "windows.sr"),
        ({"injection": {"n_signal": 10, "s_over_b": 0.01}}, "injection"),
        ({"windows": {"sr": [3.3, 3.7], "sideband": [3.2, 3.8]}}, "windows.sideband"),
        ({"windows": {"sr": [3.0, 3.4]}}, "data.builtin.extra_mjj_range"),
        ({"mlp": {"epochs": 2, "n_best_epochs": 5}}, "mlp.n_best_epochs"),
        ({"data": {"source": "root"}}, "data.root.files"),
        ({"data": {"source": "root", "root": {"files": ["a.root"]}}}, "data.root.branches"),
        (
            {"data": {"source": "root", "root": {"files": ["a.root"], "jets": {"pt": "j"}}}},
            "data.root.label",
        ),
        ({"windows": {"scan": {"start": 4, "stop": 3, "width": 0.4, "step": 0.2}}}, "windows.scan"),
        ({"calibration": {"enabled": True}}, "calibration.enabled"),
        ({"calibration": {"family": "cathode_mlp@0.3"}}, "calibration.family"),
        ({"calibration": {"family": "cathode"}}, "calibration.family"),
    ],
)
def test_cross_key_checks(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(raw)


def test_pre_registered_family_names_a_bump_hunt_test():
    cfg = load_config(
        {
            "bumphunt": {"enabled": True},
            "splits": {"folds": 2},
            "calibration": {"enabled": True, "family": "anode_density@0.01"},
        }
    )
    assert cfg["calibration"]["family"] == "anode_density@0.01"


def test_scan_windows():
    cfg = load_config(
        {
            "windows": {"scan": {"start": 3.0, "stop": 4.6, "width": 0.4, "step": 0.2}},
            "data": {"builtin": {"extra_mjj_range": [3.0, 4.6]}},
        }
    )
    names = [w.name for w in windows_from_config(cfg)]
    assert names[0] == "sr3000-3400" and names[-1] == "sr4200-4600" and len(names) == 7


def test_injection_tags_round_trip():
    for inj in (
        {"n_signal": 1000, "s_over_b": None, "seed": 3},
        {"n_signal": None, "s_over_b": 0.003, "seed": 1},
    ):
        tag = injection_tag({"injection": inj})
        assert injection_from_tag(tag) == inj
    with pytest.raises(ValueError, match="malformed injection tag"):
        injection_from_tag("n1000")


def test_file_and_inline_json(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"run": "mine", "seeds": [4]}))
    assert load_config(path)["seeds"] == [4]
    assert load_config('{"run": "inline"}')["run"] == "inline"
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_hash_depends_on_selected_sections_only():
    a = load_config({"mlp": {"epochs": 5, "n_best_epochs": 2}})
    b = load_config({"mlp": {"epochs": 6, "n_best_epochs": 2}})
    assert config_hash(a, "bdt") == config_hash(b, "bdt")
    assert config_hash(a, "mlp") != config_hash(b, "mlp")
