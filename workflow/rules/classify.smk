# Train each classifier-based method per window, all seeds in one job (the window's tables are
# read once and the start-up is paid once); score the test set and, for the bump hunt, the data.


rule train_classifier:
    input:
        unpack(classifier_inputs),
    output:
        expand(
            f"{RES}/{{{{inj}}}}/{{{{window}}}}/{{{{method}}}}/{{{{clf}}}}/seed{{seed}}/scores.h5",
            seed=config["seeds"],
        ),
    wildcard_constraints:
        method=wildcard_pattern([m for m in classifier_methods() if m != "cathode"]),
        clf=wildcard_pattern(CLASSIFIERS),
    params:
        cfg=lambda w: cfg_json(
            "device", "features", "splits", w.clf, *method_section(w), bands=BANDS_VARY
        ),
        samples=samples_arg,
        seeds=seeds_arg(),
        score_data=score_data_arg(),
        spurious=lambda w, input: files_arg("--spurious", input.get("spurious", [])),
    log:
        f"{RES}/{{inj}}/{{window}}/{{method}}/{{clf}}/train.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/{{method}}/{{clf}}/train.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=6000,
        runtime=lambda w: 60 * len(config["seeds"]),
        gpu=lambda w: GPU if w.clf == "mlp" else 0,
    shell:
        "anode-cathode train --config {params.cfg:q} --threads {threads} --split {input.split} "
        "--method {wildcards.method} --classifier {wildcards.clf} --seed {params.seeds} "
        "{params.samples} {params.score_data} {params.spurious} --out {output} > {log} 2>&1"


# CATHODE's classifiers end the longest chain of the DAG (SB flow -> samples -> classifier):
# the same rule, run before the others once its samples exist.
use rule train_classifier as train_classifier_cathode with:
    wildcard_constraints:
        method="cathode",
        clf=wildcard_pattern(CLASSIFIERS),
    priority: 50
