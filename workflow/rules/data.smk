# Inputs -> feature table -> injected data set -> per-window tables.

rule generate_builtin:
    output:
        events=f"{RES}/input/builtin_events.h5",
        extra=f"{RES}/input/builtin_extra.h5",
    params:
        cfg=cfg_json("data"),
    log:
        f"{RES}/input/generate_builtin.log",
    benchmark:
        f"{RES}/input/generate_builtin.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    shell:
        "anode-cathode generate --config {params.cfg:q} "
        "--events {output.events} --extra {output.extra} > {log} 2>&1"


rule example_ntuples:
    output:
        events=["data/example_ntuples/events_0.root", "data/example_ntuples/events_1.root"],
        extra="data/example_ntuples/extra_0.root",
    params:
        cfg=cfg_json("data"),
        out_dir=lambda w, output: os.path.dirname(output.extra),
    log:
        "data/example_ntuples/example_ntuples.log",
    benchmark:
        "data/example_ntuples/example_ntuples.benchmark.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=20,
    shell:
        "anode-cathode example-ntuples --config {params.cfg:q} --out-dir {params.out_dir} "
        "> {log} 2>&1"


if SOURCE == "lhco" and LHCO["download"]:

    rule download_lhco:
        output:
            "{lhco_file}",
        wildcard_constraints:
            lhco_file="|".join(
                re.escape(p) for p in (LHCO["events"], LHCO["extra_background"]) if p
            ),
        params:
            url=lambda w: LHCO["urls"][lhco_key(w.lhco_file)],
            md5=lambda w: LHCO["md5"][lhco_key(w.lhco_file)] or "",
        log:
            "{lhco_file}.download.log",
        benchmark:
            "{lhco_file}.download.benchmark.tsv"
        localrule: True
        conda:
            CONDA_ENV
        threads: 1
        resources:
            mem_mb=500,
            runtime=120,
        shell:
            "anode-cathode download --url {params.url:q} --dest {output:q} "
            "--md5 {params.md5:q} > {log} 2>&1"


rule features:
    input:
        unpack(feature_inputs),
    output:
        f"{RES}/features.h5",
    params:
        cfg=cfg_json("data"),
        files=feature_args,
    log:
        f"{RES}/features.log",
    benchmark:
        f"{RES}/features.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        "anode-cathode features --config {params.cfg:q} {params.files} --out {output} > {log} 2>&1"


rule inject:
    input:
        f"{RES}/features.h5",
    output:
        f"{RES}/{{inj}}/dataset.h5",
    wildcard_constraints:
        inj=INJECTION_TAG,  # null<k>: the calibration's pseudo-data (calibration.smk)
    params:
        cfg=lambda w: inj_cfg(w, "data", "splits", "windows"),
    log:
        f"{RES}/{{inj}}/dataset.log",
    benchmark:
        f"{RES}/{{inj}}/dataset.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=20,
    shell:
        "anode-cathode inject --config {params.cfg:q} --features {input} --out {output} > {log} 2>&1"


rule split_window:
    input:
        f"{RES}/{{inj}}/dataset.h5",
    output:
        f"{RES}/{{inj}}/{{window}}/split.h5",
    params:
        cfg=cfg_json("windows", "splits"),
    log:
        f"{RES}/{{inj}}/{{window}}/split.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/split.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=20,
    shell:
        "anode-cathode split --config {params.cfg:q} --dataset {input} "
        "--window {wildcards.window} --out {output} > {log} 2>&1"
