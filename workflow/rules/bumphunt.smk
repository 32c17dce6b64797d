# Bump hunt: cut on out-of-fold anomaly scores, fit the mjj spectrum outside each window's SR,
# local significance per window and cut, then the scan: local Z vs window, global p-values.


rule bumphunt_window:
    input:
        lambda w: bumphunt_scores(w.inj, w.window, w.method, w.clf),
    output:
        json=f"{RES}/{{inj}}/{{window}}/bumphunt/{{method}}_{{clf}}.json",
        plot=report(
            f"{RES}/{{inj}}/{{window}}/bumphunt/{{method}}_{{clf}}.png",
            caption="../report/bumphunt_spectrum.rst",
            category="Bump hunt",
            subcategory="{inj} spectra",
            labels={"window": "{window}", "method": "{method} ({clf})"},
        ),
    wildcard_constraints:
        method=wildcard_pattern(METHODS),
        clf=wildcard_pattern([*CLASSIFIERS, DENSITY]),
    params:
        cfg=cfg_json("bumphunt"),
    log:
        f"{RES}/{{inj}}/{{window}}/bumphunt/{{method}}_{{clf}}.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/bumphunt/{{method}}_{{clf}}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "anode-cathode bumphunt-window --config {params.cfg:q} --scores {input} "
        "--out {output.json} --plot {output.plot} > {log} 2>&1"


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
