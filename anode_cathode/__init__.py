"""Weakly supervised resonant anomaly detection: CATHODE, ANODE, CWoLa hunting and baselines."""

__version__ = "0.1.0"
__all__ = ["__version__"]
