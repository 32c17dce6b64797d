#!/usr/bin/env bash
# Run by `snakemake --use-conda` after it creates the environment from environment.yml:
# installs this package into it. ANODE_CATHODE_SRC is set by the Snakefile (repository root).
set -euo pipefail
python -m pip install --no-deps "${ANODE_CATHODE_SRC:?not run from the anode-cathode Snakefile}"
