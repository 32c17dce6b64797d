"""Inputs (LHCO HDF5, ROOT ntuples, built-in generator), features, regions and splits."""
