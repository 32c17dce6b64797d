# anode-cathode: weakly supervised resonant anomaly detection on dijet events.
#   snakemake --cores all                                   built-in data, configs/default.yaml
#   snakemake --cores all --configfile configs/lhco.yaml    LHCO R&D files (downloaded if missing)
# Outputs: results/<run>/ (summary.md, sic.png, roc.png, per-window details).
import copy
import sys

from snakemake.utils import min_version, validate

from anode_cathode.config import ConfigError, validate_config
from anode_cathode.core.runlock import report_failed_steps_at_exit

min_version("9.0")


report: "workflow/report/workflow.rst"


# configs/default.yaml only when no --configfile is given: a user's config is completed by the
# schema defaults, never by the laptop settings of the default run.
if not workflow.overwrite_configfiles:

    configfile: "configs/default.yaml"



RAW_CONFIG = copy.deepcopy(config)


# our own check first: one line naming the key (Snakemake's validate prints the whole schema)
try:
    config.update(validate_config(config))
except ConfigError as err:
    sys.exit(f"anode-cathode: {err}")
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/density.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/bumphunt.smk"
include: "workflow/rules/calibration.smk"


rule all:
    input:
        all_targets(),
    default_target: True



# A failed step's one-line error (file, field, fix) as the last lines on the terminal, after
# Snakemake's own summary; the traceback stays in the step's log.
onerror:
    report_failed_steps_at_exit(log)
