# Calibration of the bump hunt (target `calibrate`): background-only pseudo-data sets through
# the whole chain (the ordinary per-window jobs of the other rule files), an independent
# background sample scored by every model for the spurious signal, then the calibrated global
# p-values of the observed scan. anode_cathode/data/pseudo.py says where the pseudo-data come
# from for each input source.

CAL = config["calibration"]
# one directory per observed data set: the null data sets do not depend on the injection, so
# changing it calibrates another observed data set against the same ensemble
CAL_DIR = f"{RES}/bumphunt/calibration/{INJ}"
# the pseudo-data depend on the generator/input, the folds and the calibration seed only, so
# that changing n_null or n_test reuses the data sets already made
PSEUDO_CFG = cfg_json(
    "data",
    "splits",
    "windows",
    *(["bumphunt"] if CAL["pseudo_data"] == "smoothed" else []),  # the smoothing range
    calibration={
        "seed": CAL["seed"],
        "spurious_factor": CAL["spurious_factor"],
        "pseudo_data": CAL["pseudo_data"],
    },
)


rule smoothing_model:
    input:
        f"{RES}/{INJ}/dataset.h5",
    output:
        flow=SMOOTHING[0],
        spectrum=SMOOTHING[1],
    params:
        cfg=cfg_json("device", "features", "flow", "windows", "bumphunt", "calibration"),
    log:
        f"{RES}/calibration/smoothing/smoothing.log",
    benchmark:
        f"{RES}/calibration/smoothing/smoothing.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["flow"]
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=GPU,
    shell:
        "anode-cathode smoothing-model --config {params.cfg:q} --threads {threads} "
        "--dataset {input} --flow {output.flow} --spectrum {output.spectrum} > {log} 2>&1"


rule null_dataset:
    input:
        unpack(pseudo_data_inputs),
    output:
        # 30 MB per calibration-sized data set, remade in seconds: removed once its windows ran
        temp(f"{RES}/null{{k}}/dataset.h5"),
    wildcard_constraints:
        k=r"\d+",
    params:
        cfg=PSEUDO_CFG,
        inputs=pseudo_data_args,
    log:
        f"{RES}/null{{k}}/dataset.log",
    benchmark:
        f"{RES}/null{{k}}/dataset.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=20,
    shell:
        "anode-cathode null-dataset --config {params.cfg:q} --index {wildcards.k} "
        "{params.inputs} --out {output} > {log} 2>&1"


# A null data set's window runs as one job (split, flows, samples, classifiers, scores, cuts,
# fits): the same steps as the per-step rules, with one process start-up instead of nine and no
# intermediate files or plots kept (anode_cathode/pipeline/chain.py).
CHAIN_CFG = cfg_json(
    "device",
    "features",
    "windows",
    "splits",
    "seeds",
    "classifiers",
    "flow",
    "anode",
    "bumphunt",
    *cathode_section(),
    *CLASSIFIERS,
    *{METHODS[m].options for m in config["methods"]} - {None},
    bands=BANDS_VARY,
)


rule null_window_chain:
    input:
        dataset=f"{RES}/{{inj}}/dataset.h5",
        spurious=SPURIOUS,
    output:
        window_combo_files("bumphunt/{combo}.json"),
    wildcard_constraints:
        inj=r"null\d+",
    params:
        cfg=CHAIN_CFG,
        combos=" ".join(bumphunt_combos()),
    log:
        f"{RES}/{{inj}}/{{window}}/chain.log",
    benchmark:
        f"{RES}/{{inj}}/{{window}}/chain.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: config["threads"]["flow"]
    resources:
        mem_mb=8000,
        runtime=300 * config["splits"]["folds"],  # minutes, LHCO-scale flows on a CPU core
        gpu=GPU,
    shell:
        "anode-cathode window-chain --config {params.cfg:q} --threads {threads} "
        "--dataset {input.dataset} --window {wildcards.window} --combo {params.combos} "
        "--spurious {input.spurious} --out {output} > {log} 2>&1"


ruleorder: null_window_chain > bumphunt_window


rule spurious_sample:
    input:
        unpack(pseudo_data_inputs),
    output:
        SPURIOUS,
    params:
        cfg=PSEUDO_CFG,
        inputs=pseudo_data_args,
    log:
        f"{RES}/calibration/spurious.log",
    benchmark:
        f"{RES}/calibration/spurious.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=12000,
        runtime=30,
    shell:
        "anode-cathode spurious-sample --config {params.cfg:q} {params.inputs} "
        "--out {output} > {log} 2>&1"


rule calibrate:
    input:
        observed=bumphunt_window_files(INJ),
        null=lambda w: calibration_files(0, CAL["n_null"]),
        test=lambda w: calibration_files(CAL["n_null"], CAL["n_test"]),
    output:
        md=report(
            f"{CAL_DIR}/calibrated.md",
            caption="../report/calibration.rst",
            category="Bump hunt",
            subcategory="calibration",
        ),
        csv=f"{CAL_DIR}/calibrated.csv",
        spurious=f"{CAL_DIR}/spurious.csv",
        null_md=report(
            f"{CAL_DIR}/null_check.md",
            caption="../report/calibration.rst",
            category="Bump hunt",
            subcategory="calibration",
        ),
        null_csv=f"{CAL_DIR}/null_check.csv",
        per_set_csv=f"{CAL_DIR}/null_datasets.csv",
        cdf=report(
            expand(
                f"{CAL_DIR}/max_z_cdf_{{combo}}.png", combo=bumphunt_combos()
            ),
            caption="../report/calibration.rst",
            category="Bump hunt",
            subcategory="calibration",
        ),
        local_z=report(
            f"{CAL_DIR}/local_z_null.png",
            caption="../report/calibration.rst",
            category="Bump hunt",
            subcategory="calibration",
        ),
    params:
        cfg=cfg_json("run", "data", "bumphunt", "calibration"),
        out_dir=lambda w, output: os.path.dirname(output.csv),
        test=lambda w, input: files_arg("--test", input.test),
    log:
        f"{CAL_DIR}/calibrate.log",
    benchmark:
        f"{CAL_DIR}/calibrate.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "anode-cathode calibrate --config {params.cfg:q} --observed {input.observed} "
        "--null {input.null} {params.test} --out-dir {params.out_dir} > {log} 2>&1"
