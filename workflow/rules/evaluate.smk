# ROC/SIC per window, then the run summary and the headline plots.


rule evaluate_window:
    input:
        lambda w: score_files(w.inj, w.window),
    output:
        metrics=f"{RES}/{{inj}}/{{window}}/eval/metrics.csv",
        curves=f"{RES}/{{inj}}/{{window}}/eval/curves.h5",
        sic=report(
            f"{RES}/{{inj}}/{{window}}/eval/sic.png",
            caption="../report/sic_window.rst",
            category="Windows",
            subcategory="{window}",
        ),
        roc=report(
            f"{RES}/{{inj}}/{{window}}/eval/roc.png",
            caption="../report/roc.rst",
            category="Windows",
            subcategory="{window}",
        ),
    params:
        cfg=cfg_json("run", "evaluation"),
        out_dir=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"{RES}/{{inj}}/{{window}}/eval/evaluate.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/eval/evaluate.benchmark.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "anode-cathode evaluate --config {params.cfg:q} --scores {input} "
        "--window {wildcards.window} --inj {wildcards.inj} --out-dir {params.out_dir} > {log} 2>&1"


rule summary:
    input:
        metrics=expand(f"{RES}/{INJ}/{{window}}/eval/metrics.csv", window=WINDOWS),
        curves=f"{RES}/{INJ}/{reference_window()}/eval/curves.h5",
        closure=closure_files(INJ),
    output:
        csv=f"{RES}/summary.csv",
        per_seed=f"{RES}/metrics_per_seed.csv",
        md=report(f"{RES}/summary.md", caption="../report/summary.rst", category="Summary"),
        sic=report(f"{RES}/sic.png", caption="../report/sic.rst", category="Summary"),
        sic_pdf=f"{RES}/sic.pdf",
        roc=report(f"{RES}/roc.png", caption="../report/roc.rst", category="Summary"),
    params:
        cfg=cfg_json("run", "evaluation", "diagnostics"),
        out_dir=lambda w, output: os.path.dirname(output.csv),
        closure=lambda w, input: f"--closure {input.closure}" if input.closure else "",
    log:
        f"{RES}/summary.log",
    benchmark:
        f"{RES}/summary.benchmark.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "anode-cathode summarize --config {params.cfg:q} --metrics {input.metrics} "
        "--curves {input.curves} {params.closure} --out-dir {params.out_dir} > {log} 2>&1"


rule injection_scan:
    input:
        expand(
            f"{RES}/{{inj}}/{reference_window()}/eval/metrics.csv",
            inj=injection_scan_tags(),
        ),
    output:
        png=report(
            f"{RES}/injection_scan/max_sic_vs_sb.png",
            caption="../report/injection_scan.rst",
            category="Injection scan",
        ),
        pdf=f"{RES}/injection_scan/max_sic_vs_sb.pdf",
        csv=f"{RES}/injection_scan/max_sic_vs_sb.csv",
        runs=f"{RES}/injection_scan/metrics_per_run.csv",
    params:
        cfg=cfg_json("run", "evaluation"),
        out_dir=lambda w, output: os.path.dirname(output.csv),
    log:
        f"{RES}/injection_scan/injection_scan.log",
    benchmark:
        f"{RES}/injection_scan/injection_scan.benchmark.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "anode-cathode injection-scan --config {params.cfg:q} --metrics {input} "
        "--out-dir {params.out_dir} > {log} 2>&1"


# Bands over the full randomness: the reference window rerun for every injection seed (its
# own signal events, flows, samples and classifiers), pooled with the training seeds.
rule bands:
    input:
        bands_files(),
    output:
        md=report(f"{RES}/bands/summary.md", caption="../report/bands.rst", category="Summary"),
        csv=f"{RES}/bands/summary.csv",
        runs=f"{RES}/bands/metrics_per_run.csv",
    params:
        cfg=cfg_json("run", "evaluation", "bands"),
        out_dir=lambda w, output: os.path.dirname(output.csv),
    log:
        f"{RES}/bands/bands.log",
    benchmark:
        f"{RES}/bands/bands.benchmark.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "anode-cathode bands --config {params.cfg:q} --metrics {input} "
        "--out-dir {params.out_dir} > {log} 2>&1"
