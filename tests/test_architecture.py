"""The package's layering and its single registry of methods and classifiers.

Layers, bottom to top (docs/architecture.md): core → data → density | classifiers → methods →
evaluation | bumphunt → config → pipeline → cli. A module may import its own part and the
parts below it, never a part above it nor a sibling on its own level.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import yaml

import anode_cathode
from anode_cathode.core import registry

PACKAGE = Path(anode_cathode.__file__).resolve().parent
REPO = PACKAGE.parent

#: Rank of every part; parts of equal rank are siblings and may not import each other.
LAYERS = {
    "core": 0,
    "data": 1,
    "density": 2,
    "classifiers": 2,
    "methods": 3,
    "evaluation": 4,
    "bumphunt": 4,
    "config": 5,
    "pipeline": 6,
    "cli": 7,
    "__main__": 8,
}


def _part(module: str) -> str | None:
    """Part of a dotted module name inside the package (None for the package root)."""
    names = module.split(".")
    if names[0] != "anode_cathode":
        raise ValueError(module)
    return names[1] if len(names) > 1 else None


def _imports(source: str, module: str) -> list[str]:
    """Every ``anode_cathode`` module imported anywhere in ``source`` (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "anode_cathode"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing module
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name.split(".")[0] == "anode_cathode":
                found.append(name)
    return found


def layering_violations(sources: dict[str, str]) -> list[str]:
    """``importer -> imported`` for every import that goes up or sideways between parts.

    ``sources`` maps dotted module names to their source text.
    """
    bad = []
    for module, source in sources.items():
        part = _part(module)
        if part is None:  # the package root holds only the version
            continue
        for target in _imports(source, module):
            other = _part(target)
            if other is None or other == part:
                continue
            if LAYERS[other] >= LAYERS[part]:
                bad.append(f"{module} -> {target}")
    return bad


def _package_sources() -> dict[str, str]:
    sources = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        sources[name] = path.read_text()
    return sources


def test_every_part_has_a_layer():
    parts = {_part(m) for m in _package_sources()} - {None}
    assert parts <= set(LAYERS), f"parts without a layer: {sorted(parts - set(LAYERS))}"


def test_no_wrong_way_imports():
    assert layering_violations(_package_sources()) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("anode_cathode.density.flow", "from anode_cathode.classifiers import BDTClassifier"),
        ("anode_cathode.classifiers.mlp", "import anode_cathode.density.train"),
        ("anode_cathode.evaluation.injection", "from anode_cathode.config import load_config"),
        ("anode_cathode.bumphunt.plots", "def f():\n    from anode_cathode.evaluation import x"),
        ("anode_cathode.core.plotting", "from anode_cathode.data.io import write_tables"),
        ("anode_cathode.methods.run", "from ..cli import main"),
    ],
)
def test_checker_catches_wrong_way_imports(module, source):
    assert layering_violations({module: source}) == [f"{module} -> {_imports(source, module)[0]}"]


def test_checker_allows_downward_imports():
    sources = {
        "anode_cathode.pipeline.density": "from anode_cathode.config import sr_flow_config",
        "anode_cathode.density.flow": "from anode_cathode.core.device import resolve_device",
        "anode_cathode.data.io": "from anode_cathode import __version__",
        "anode_cathode.bumphunt.toys": "from .window import CutResult",
    }
    assert layering_violations(sources) == []


# ---------------------------------------------------------------------------- registry
def _schema() -> dict:
    with open(REPO / "workflow/schemas/config.schema.yaml") as f:
        return yaml.safe_load(f)["properties"]


def test_schema_names_the_registry():
    schema = _schema()
    assert schema["methods"]["items"]["enum"] == list(registry.METHODS)
    assert schema["methods"]["default"] == list(registry.METHODS)
    assert schema["bumphunt"]["properties"]["methods"]["items"]["enum"] == list(registry.METHODS)
    assert schema["classifiers"]["items"]["enum"] == list(registry.CLASSIFIERS)
    assert schema["classifiers"]["default"] == list(registry.CLASSIFIERS)


def test_code_derives_from_the_registry():
    from anode_cathode.classifiers import CLASSIFIERS
    from anode_cathode.cli import build_parser
    from anode_cathode.methods import training_set_builder

    assert list(CLASSIFIERS) == list(registry.CLASSIFIERS)
    for method in registry.classifier_methods():
        assert callable(training_set_builder(method))
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = {a.dest: a.choices for a in train._actions if a.choices}
    assert choices == {"method": registry.classifier_methods(), "classifier": ["bdt", "mlp"]}


def _params(cls) -> set[str]:
    return set(inspect.signature(cls).parameters)


def test_schema_keys_are_estimator_parameters():
    """Every configurable hyperparameter is an estimator parameter and vice versa, except the
    ones the rules set (seeds, threads, device) and the deliberately unconfigured ones."""
    from anode_cathode.classifiers import BDTClassifier, MLPClassifier
    from anode_cathode.density import ConditionalFlow

    schema = _schema()
    by_rule = {"random_state", "n_threads", "device"}
    not_configured = {"verbose", "checkpoint_dir", "compile"}
    mlp = set(schema["mlp"]["properties"]) | {"validation_fraction"}  # from splits.val_fraction
    fixed = {"class_weight", "standardize"}  # the workflow always balances and standardises
    assert mlp == _params(MLPClassifier) - by_rule - not_configured - fixed
    bdt = _params(BDTClassifier) - by_rule - not_configured - {"class_weight"}
    assert set(schema["bdt"]["properties"]) == bdt
    flow = set(schema["flow"]["properties"]) - {"seed", "lr_scaling"}  # not estimator params
    # physical_bounds (config) becomes lower_bounds (estimator) from the flow's feature names
    flow = flow - {"physical_bounds"} | {"lower_bounds"}
    assert flow == _params(ConditionalFlow) - by_rule - not_configured
