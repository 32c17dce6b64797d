# Conditional flows p(x | mjj): sideband flows (CATHODE, ANODE) with CATHODE's samples,
# signal-region flows (ANODE) and the flow closure diagnostics. Flow training is a GPU rule.
# With splits.folds = k >= 2 there is one SB flow per fold, trained on the other folds, so that
# no data event is scored with a flow that saw it; k = 1 gives one flow (fold0) on all SB data.
# One job per window for all folds (and per seed for the SR flows): the split is read once and
# the process start-up (about 2 s of imports) is paid once, not per fold.


rule train_flow:
    input:
        f"{RES}/{{inj}}/{{window}}/split.h5",
    output:
        model=window_fold_files("flow_sb/fold{fold}/model.pt"),
        losses=window_fold_files("flow_sb/fold{fold}/model.losses.csv"),
        # CATHODE's samples, drawn by each fold's flow right after training (no second job
        # that starts up and reloads the models)
        samples=window_fold_files("cathode/fold{fold}/samples.h5") if uses_cathode() else [],
    params:
        cfg=cfg_json("device", "features", "flow", "splits", *cathode_section(), bands=BANDS_VARY),
        folds=folds_arg(),
        samples=lambda w, output: files_arg("--samples", output.samples),
    log:
        f"{RES}/{{inj}}/{{window}}/flow_sb/train.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/flow_sb/train.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["flow"]
    priority: 50  # the critical path: SB flow and samples -> CATHODE classifiers
    resources:
        mem_mb=8000,
        runtime=180 * config["splits"]["folds"],  # minutes, LHCO-scale flows on a CPU core
        gpu=GPU,
    shell:
        "anode-cathode train-flow --config {params.cfg:q} --threads {threads} --split {input} "
        "--region sb --fold {params.folds} --out {output.model} {params.samples} > {log} 2>&1"


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


rule train_flow_inner:
    input:
        f"{RES}/{{inj}}/{{window}}/split.h5",
    # one job per training seed (all folds): seeds run in parallel on a cluster's GPUs
    output:
        model=window_fold_files("flow_sr/seed{{seed}}/fold{fold}/model.pt"),
        losses=window_fold_files("flow_sr/seed{{seed}}/fold{fold}/model.losses.csv"),
    wildcard_constraints:
        seed=r"\d+",
    params:
        cfg=cfg_json("device", "features", "flow", "anode", "splits", bands=BANDS_VARY),
        folds=folds_arg(),
    log:
        f"{RES}/{{inj}}/{{window}}/flow_sr/seed{{seed}}/train.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/flow_sr/seed{{seed}}/train.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["flow"]
    resources:
        mem_mb=6000,
        runtime=120 * config["splits"]["folds"],
        gpu=GPU,
    shell:
        "anode-cathode train-flow --config {params.cfg:q} --threads {threads} --split {input} "
        "--region sr --seed {wildcards.seed} --fold {params.folds} --out {output.model} "
        "> {log} 2>&1"


rule score_anode:
    input:
        split=f"{RES}/{{inj}}/{{window}}/split.h5",
        flows_sb=rules.train_flow.output.model,
        # seed after seed, the folds of each seed in order (what score-anode expects)
        flows_sr=lambda w: expand(
            f"{RES}/{w.inj}/{w.window}/flow_sr/seed{{seed}}/fold{{fold}}/model.pt",
            seed=config["seeds"],
            fold=range(config["splits"]["folds"]),
        ),
        **spurious_input(),
    output:
        expand(
            f"{RES}/{{{{inj}}}}/{{{{window}}}}/anode/density/seed{{seed}}/scores.h5",
            seed=config["seeds"],
        ),
    params:
        cfg=cfg_json("device", "features"),
        seeds=seeds_arg(),
        score_data=score_data_arg(),
        spurious=lambda w, input: files_arg("--spurious", input.get("spurious", [])),
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
        "--seed {params.seeds} {params.score_data} {params.spurious} --out {output} > {log} 2>&1"
