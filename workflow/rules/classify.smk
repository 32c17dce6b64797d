# Train each classifier-based method per window and seed; score the test set and the data.


rule train_classifier:
    input:
        unpack(classifier_inputs),
    output:
        f"{RES}/{{inj}}/{{window}}/{{method}}/{{clf}}/seed{{seed}}/scores.h5",
    wildcard_constraints:
        method=wildcard_pattern(classifier_methods()),
        clf=wildcard_pattern(CLASSIFIERS),
        seed=r"\d+",
    params:
        cfg=lambda w: cfg_json("device", "features", "splits", w.clf),
        samples=samples_arg,
    log:
        f"{RES}/{{inj}}/{{window}}/{{method}}/{{clf}}/seed{{seed}}/train.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/{{method}}/{{clf}}/seed{{seed}}/train.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=lambda w: GPU if w.clf == "mlp" else 0,
    shell:
        "anode-cathode train --config {params.cfg:q} --threads {threads} --split {input.split} "
        "--method {wildcards.method} --classifier {wildcards.clf} --seed {wildcards.seed} "
        "{params.samples} --out {output} > {log} 2>&1"
