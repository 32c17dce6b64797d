"""Anomaly-detection methods: how each builds its classifier's training set from a window."""

from anode_cathode.methods import anode, cathode, cwola, idealized, supervised
from anode_cathode.methods.run import METHODS, fit_and_score

__all__ = ["METHODS", "anode", "cathode", "cwola", "fit_and_score", "idealized", "supervised"]
