"""The registry of anomaly-detection methods and classifiers.

One table that everything else derives from: the configuration check, the command-line
choices, the Snakemake wildcard constraints and target lists, the plot labels and colours.
The schema (``workflow/schemas/config.schema.yaml``) lists the same names for users; a test
keeps the two in agreement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CLASSIFIERS",
    "CLASSIFIER_STYLES",
    "DENSITY",
    "METHODS",
    "Method",
    "classifier_methods",
    "classifiers_for",
    "wildcard_pattern",
]


@dataclass(frozen=True)
class Method:
    """What the workflow needs to know about a method.

    Attributes
    ----------
    name, label, color
        Config name, name in plots and tables, and plot colour.
    trains_classifier
        Scores events with a classifier (MLP or BDT); ``False`` for ANODE's density ratio.
    uses_data
        Trains on the data themselves, so with k folds every fold gets its own model (only
        the supervised baseline trains on labelled simulation alone).
    needs_flows
        Needs the conditional flows of the sidebands.
    options
        Config section with the method's own training options, passed to its
        ``training_set`` as keyword arguments (``None``: it has none).
    """

    name: str
    label: str
    color: str
    trains_classifier: bool
    uses_data: bool
    needs_flows: bool
    options: str | None = None


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("supervised", "Supervised", "black", True, False, False),
        Method("idealized", "Idealized AD", "tab:orange", True, True, False),
        Method("cwola", "CWoLa hunting", "tab:green", True, True, False, "cwola"),  # 1805.02664
        Method("cathode", "CATHODE", "tab:blue", True, True, True),  # arXiv:2109.00546
        Method("anode", "ANODE", "tab:red", False, True, True),  # arXiv:2001.04990
    )
}

#: Classifier kinds (``mlp``: torch MLP with an epoch ensemble; ``bdt``: boosted-tree ensemble).
CLASSIFIERS: tuple[str, ...] = ("bdt", "mlp")
#: The "classifier" of a method that scores without one (ANODE), in file names and tables.
DENSITY = "density"
#: Line style per classifier in the plots.
CLASSIFIER_STYLES = {"bdt": "-", "mlp": "--", DENSITY: ":"}


def classifier_methods(methods: Iterable[str] | None = None) -> list[str]:
    """The methods among ``methods`` (all when ``None``) that train a classifier."""
    names = METHODS if methods is None else methods
    return [m for m in names if METHODS[m].trains_classifier]


def classifiers_for(method: str, classifiers: Iterable[str]) -> list[str]:
    """The configured ``classifiers`` of ``method``, or ``[DENSITY]`` when it has none."""
    return list(classifiers) if METHODS[method].trains_classifier else [DENSITY]


def wildcard_pattern(names: Iterable[str]) -> str:
    """A regular expression matching exactly one of ``names`` (Snakemake wildcard constraint).

    Examples
    --------
    >>> wildcard_pattern(["bdt", "mlp"])
    'bdt|mlp'
    """
    return "|".join(names)
