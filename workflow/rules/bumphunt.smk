# Bump hunt: cut on out-of-fold anomaly scores, fit the mjj spectrum outside each window's SR,
# local significance per window and cut (one job per window, all methods), then the scan: local
# Z vs window, global p-values.


rule bumphunt_window:
    input:
        lambda w: [f for combo in bumphunt_combos() for f in bumphunt_scores(w.inj, w.window, combo)],
    output:
        json=window_combo_files("bumphunt/{combo}.json"),
        plot=report(
            window_combo_files("bumphunt/{combo}.png"),
            caption="../report/bumphunt_spectrum.rst",
            category="Bump hunt",
            subcategory="{inj} spectra",
            labels={"window": "{window}"},
        ),
    params:
        cfg=cfg_json("bumphunt"),
        groups=bumphunt_window_args,
    log:
        f"{RES}/{{inj}}/{{window}}/bumphunt/window.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/bumphunt/window.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "anode-cathode bumphunt-window --config {params.cfg:q} {params.groups} > {log} 2>&1"


rule bumphunt_scan:
    input:
        lambda w: bumphunt_window_files(w.inj),
    output:
        csv=f"{RES}/bumphunt/{{inj}}/pvalues.csv",
        md=report(
            f"{RES}/bumphunt/{{inj}}/pvalues.md",
            caption="../report/bumphunt_table.rst",
            category="Bump hunt",
            subcategory="{inj} scan",
        ),
        uniformity=report(
            f"{RES}/bumphunt/{{inj}}/pvalue_uniformity.png",
            caption="../report/bumphunt_null.rst",
            category="Bump hunt",
            subcategory="{inj} scan",
        ),
        local_z=report(
            expand(f"{RES}/bumphunt/{{{{inj}}}}/local_z_{{combo}}.png", combo=bumphunt_combos()),
            caption="../report/bumphunt_local_z.rst",
            category="Bump hunt",
            subcategory="{inj} scan",
        ),
        sculpting=report(
            expand(f"{RES}/bumphunt/{{{{inj}}}}/sculpting_{{combo}}.png", combo=bumphunt_combos()),
            caption="../report/bumphunt_sculpting.rst",
            category="Bump hunt",
            subcategory="{inj} scan",
        ),
    params:
        cfg=cfg_json("run", "bumphunt"),
        out_dir=lambda w, output: os.path.dirname(output.csv),
    log:
        f"{RES}/bumphunt/{{inj}}/scan.log",
    benchmark:
        f"{RES}/bumphunt/{{inj}}/scan.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "anode-cathode bumphunt-scan --config {params.cfg:q} --inputs {input} "
        "--inj {wildcards.inj} --out-dir {params.out_dir} > {log} 2>&1"


rule null_check:
    input:
        f"{RES}/bumphunt/{NULL_INJ}/pvalues.md",
        f"{RES}/bumphunt/{NULL_INJ}/pvalue_uniformity.png",
    localrule: True


rule linearity:
    input:
        lambda w: linearity_files(),
    output:
        md=report(
            f"{RES}/linearity/linearity.md",
            caption="../report/linearity.rst",
            category="Bump hunt",
            subcategory="injection linearity",
        ),
        csv=f"{RES}/linearity/linearity.csv",
        points=f"{RES}/linearity/points.csv",
        png=report(
            f"{RES}/linearity/linearity.png",
            caption="../report/linearity.rst",
            category="Bump hunt",
            subcategory="injection linearity",
        ),
    params:
        cfg=cfg_json("run", "data", "linearity"),
        out_dir=lambda w, output: os.path.dirname(output.csv),
    log:
        f"{RES}/linearity/linearity.log",
    benchmark:
        f"{RES}/linearity/linearity.benchmark.tsv"
    localrule: True
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "anode-cathode linearity --config {params.cfg:q} --inputs {input} "
        "--out-dir {params.out_dir} > {log} 2>&1"
