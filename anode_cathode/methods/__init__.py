"""Anomaly-detection methods: how each builds its classifier's training set from a window."""

from anode_cathode.methods import anode, cathode, cwola, idealized, supervised
from anode_cathode.methods.run import fit_and_score, training_set_builder

__all__ = [
    "anode",
    "cathode",
    "cwola",
    "fit_and_score",
    "idealized",
    "supervised",
    "training_set_builder",
]
