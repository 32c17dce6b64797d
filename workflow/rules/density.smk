# Conditional flows p(x | mjj): sideband flows (CATHODE, ANODE), signal-region flows (ANODE),
# CATHODE samples and the flow closure diagnostics. Flow training and sampling are GPU rules.
# With splits.folds = k >= 2 there is one SB flow per fold, trained on the other folds, so that
# no data event is scored with a flow that saw it; k = 1 gives one flow (fold0) on all SB data.


rule train_flow:
    input:
        f"{RES}/{{inj}}/{{window}}/split.h5",
    output:
        model=f"{RES}/{{inj}}/{{window}}/flow_sb/fold{{fold}}/model.pt",
        losses=f"{RES}/{{inj}}/{{window}}/flow_sb/fold{{fold}}/model.losses.csv",
    wildcard_constraints:
        fold=r"\d+",
    params:
        cfg=cfg_json("device", "features", "flow", "splits"),
    log:
        f"{RES}/{{inj}}/{{window}}/flow_sb/fold{{fold}}/train.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/flow_sb/fold{{fold}}/train.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["flow"]
    priority: 50  # the critical path: SB flow -> CATHODE samples -> CATHODE classifiers
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPU,
    shell:
        "anode-cathode train-flow --config {params.cfg:q} --threads {threads} --split {input} "
        "--region sb --fold {wildcards.fold} --out {output.model} > {log} 2>&1"


rule flow_diagnostics:
    input:
        split=f"{RES}/{{inj}}/{{window}}/split.h5",
        flow=f"{RES}/{{inj}}/{{window}}/flow_sb/fold0/model.pt",
    output:
        features=report(
            f"{RES}/{{inj}}/{{window}}/flow_sb/diagnostics/features.png",
            caption="../report/flow_features.rst",
            category="Flow diagnostics",
            subcategory="{window}",
        ),
        losses=report(
            f"{RES}/{{inj}}/{{window}}/flow_sb/diagnostics/losses.png",
            caption="../report/flow_losses.rst",
            category="Flow diagnostics",
            subcategory="{window}",
        ),
        closure=f"{RES}/{{inj}}/{{window}}/flow_sb/diagnostics/closure.json",
    params:
        cfg=cfg_json("device", "features", "flow", "diagnostics", "splits"),
        out_dir=lambda w, output: os.path.dirname(output.closure),
    log:
        f"{RES}/{{inj}}/{{window}}/flow_sb/diagnostics/diagnostics.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/flow_sb/diagnostics/diagnostics.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
        gpu=GPU,
    shell:
        "anode-cathode flow-diagnostics --config {params.cfg:q} --threads {threads} "
        "--split {input.split} --flow {input.flow} --out-dir {params.out_dir} > {log} 2>&1"


rule sample_cathode:
    input:
        split=f"{RES}/{{inj}}/{{window}}/split.h5",
        flow=f"{RES}/{{inj}}/{{window}}/flow_sb/fold{{fold}}/model.pt",
    output:
        f"{RES}/{{inj}}/{{window}}/cathode/fold{{fold}}/samples.h5",
    wildcard_constraints:
        fold=r"\d+",
    params:
        cfg=cfg_json("device", "features", "flow", "cathode", "splits"),
    log:
        f"{RES}/{{inj}}/{{window}}/cathode/fold{{fold}}/samples.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/cathode/fold{{fold}}/samples.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    priority: 50
    resources:
        mem_mb=6000,
        runtime=30,
        gpu=GPU,
    shell:
        "anode-cathode sample --config {params.cfg:q} --threads {threads} --split {input.split} "
        "--flow {input.flow} --fold {wildcards.fold} --out {output} > {log} 2>&1"


rule train_flow_inner:
    input:
        f"{RES}/{{inj}}/{{window}}/split.h5",
    output:
        model=f"{RES}/{{inj}}/{{window}}/flow_sr/seed{{seed}}/fold{{fold}}/model.pt",
        losses=f"{RES}/{{inj}}/{{window}}/flow_sr/seed{{seed}}/fold{{fold}}/model.losses.csv",
    wildcard_constraints:
        seed=r"\d+",
        fold=r"\d+",
    params:
        cfg=cfg_json("device", "features", "flow", "anode", "splits"),
    log:
        f"{RES}/{{inj}}/{{window}}/flow_sr/seed{{seed}}/fold{{fold}}/train.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/flow_sr/seed{{seed}}/fold{{fold}}/train.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["flow"]
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    shell:
        "anode-cathode train-flow --config {params.cfg:q} --threads {threads} --split {input} "
        "--region sr --seed {wildcards.seed} --fold {wildcards.fold} --out {output.model} "
        "> {log} 2>&1"


rule score_anode:
    input:
        split=f"{RES}/{{inj}}/{{window}}/split.h5",
        flows_sb=lambda w: fold_files(w.inj, w.window, "flow_sb/fold{fold}/model.pt"),
        # seed after seed, the folds of each seed in order (what score-anode expects)
        flows_sr=lambda w: expand(
            f"{RES}/{w.inj}/{w.window}/flow_sr/seed{{seed}}/fold{{fold}}/model.pt",
            seed=config["seeds"],
            fold=range(config["splits"]["folds"]),
        ),
    output:
        expand(
            f"{RES}/{{{{inj}}}}/{{{{window}}}}/anode/density/seed{{seed}}/scores.h5",
            seed=config["seeds"],
        ),
    params:
        cfg=cfg_json("device", "features"),
        seeds=seeds_arg(),
        score_data=score_data_arg(),
    log:
        f"{RES}/{{inj}}/{{window}}/anode/density/score.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/anode/density/score.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
        gpu=GPU,
    shell:
        "anode-cathode score-anode --config {params.cfg:q} --threads {threads} "
        "--split {input.split} --flows-sb {input.flows_sb} --flows-sr {input.flows_sr} "
        "--seed {params.seeds} {params.score_data} --out {output} > {log} 2>&1"
