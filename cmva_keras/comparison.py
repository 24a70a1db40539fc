"""Comparing the methods over several seeds: the paper's Table 1 (food) or Table 3 (hands), with spread.

`compare(task, seeds=3, ...)` trains (or reuses) one run per method and seed,
evaluates each with and without test-time augmentation (or reuses the
evaluation), and writes into its workdir:

- `comparison.md`: the paper's table layout, one row per method in Table 1's
  order (CM-VAE, CADA-VAE, CM-VAE + Mapper, CADA-VAE + Mapper, CMVA,
  CMVA + TTA); each cell the mean ± sample standard deviation (ddof=1) over
  seeds of the metric on the model's primary inference path, the "+ TTA"
  columns beside, the alignment columns, and the paper's numbers in their own
  columns (and rows, for the paper's methods not implemented here);
- `comparison.json`: every seed's numbers and the aggregates;
- `comparison.png`: the primary metric per method, mean and standard deviation.

The workdir's layout is `<workdir>/<method>[-mapper]/seed<s>`, each a training
run (`cmva_keras.training.loop.train`) with `config.seed = s`; "+ Mapper" runs
reuse the same seed's baseline run (`config.base_workdir`). A folder that
already holds a finished run with the same settings is reused; its
evaluation too, when `metrics.json` / `metrics_tta.json` are newer than its
`model.keras`.

Nothing here branches on a task's name: the `Task` object gives the metrics,
the paper's numbers and their units.
"""

import glob
import json
import math
import os

import numpy as np
from absl import logging

from cmva_keras.training import run_files

MARKDOWN, SUMMARY, CHART = "comparison.md", run_files.COMPARISON, "comparison.png"
METRICS, METRICS_TTA = "metrics.json", "metrics_tta.json"
ALIGNMENT_METRICS = ("w2", "median_rank", "r_at_1", "r_at_5", "r_at_10")
LABELS = {
    "f1": "F1", "iou": "IoU", "f1_micro": "F1 micro", "iou_micro": "IoU micro", "f1_macro": "F1 macro",
    "epe_mm": "EPE (mm)", "auc_20_50": "AUC 20-50", "auc_0_50": "AUC 0-50",
    "w2": "W2", "median_rank": "median rank", "r_at_1": "R@1", "r_at_5": "R@5", "r_at_10": "R@10",
}
DECIMALS = {"epe_mm": 2, "median_rank": 1}
# Settings that may differ between a reused run and this comparison's config (they change no result).
IGNORED_KEYS = ("base_workdir", "train.verbose", "train.jit_compile", "data.manual_dir", "data.data_dir")
NO_SPREAD = "n=1, no spread"
SINGLE_SEED_WARNING = (
    "**Warning: one seed only.** A single seed is not a result: the cells show one run's numbers with no "
    "spread. Run with --seeds 3 or more to see how much the methods differ from run to run."
)


# ------------------------------------------------------------------- the rows
def run_keys(methods, mapper=True):
    """`[(key, method, mapper)]` of the runs to train, baselines before their "+ Mapper", in Table 1's order.

    Raises:
        ValueError: an unknown or empty method list, naming the valid methods.
    """
    from cmva_keras.tasks import METHODS

    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",")]
    methods = [m for m in methods if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(
            f"Unknown method {', '.join(map(repr, unknown))} in --methods: choose from {', '.join(METHODS)}, "
            f"comma-separated (e.g. --methods {','.join(METHODS)})." if unknown else
            f"--methods is empty: choose from {', '.join(METHODS)}, comma-separated."
        )
    baselines = [m for m in METHODS if m != "cmva" and m in methods]
    keys = [(m, m, False) for m in baselines]
    if mapper:
        keys += [(f"{m}-mapper", m, True) for m in baselines]
    if "cmva" in methods:
        keys.append(("cmva", "cmva", False))
    return keys


def table_rows(keys):
    """`[(row name, run key, tta)]`: Table 1's rows for the runs `keys` (CMVA also as "CMVA + TTA")."""
    from cmva_keras.tasks import METHOD_NAMES

    rows = []
    for key, method, mapper in keys:
        name = METHOD_NAMES.get(method, method) + (" + Mapper" if mapper else "")
        rows.append((name, key, False))
        if method == "cmva":
            rows.append((f"{name} + TTA", key, True))
    return rows


def paper_row(task, name):
    """The paper's row for our row `name` (same name, or "Author et al. (name)"), or None."""
    for paper_name in task.paper_results:
        if paper_name == name or paper_name.endswith(f"({name})"):
            return paper_name
    return None


def table_metrics(task):
    """The table's metric columns: those the paper reports (in `task.table_metrics` order), else the primary."""
    reported = {metric for values in task.paper_results.values() for metric in values}
    columns = [m for m in task.table_metrics if m in reported]
    return columns or [task.primary_metric]


def percent_metrics(task):
    """Metrics shown in % (as the paper does): `task.percent_metrics` if set; else every metric of a
    classification task (food's F1 and IoU are fractions in `metrics.json`)."""
    declared = getattr(task, "percent_metrics", None)
    if declared is not None:
        return tuple(declared)
    return tuple(task.table_metrics) if task.problem == "classification" else ()


def metric_label(task, metric):
    return LABELS.get(metric, metric) + (" (%)" if metric in percent_metrics(task) else "")


def decimals(task, metric):
    return 2 if metric in percent_metrics(task) else DECIMALS.get(metric, 3)


# ---------------------------------------------------------------- aggregation
def aggregate(values):
    """`{"values", "n", "mean", "std"}` of per-seed values; `std` is the sample one (ddof=1), None for n < 2."""
    values = [float(v) for v in values]
    n = len(values)
    return {
        "values": values,
        "n": n,
        "mean": float(np.mean(values)) if n else None,
        "std": float(np.std(values, ddof=1)) if n > 1 else None,
    }


def _number(value, places):
    return "nan" if value is None or not math.isfinite(value) else f"{value:.{places}f}"


def format_cell(aggregate_, places):
    """`"mean ± std"`, `"value (n=1, no spread)"` for one seed, `"—"` for none."""
    if not aggregate_ or not aggregate_["n"]:
        return "—"
    if aggregate_["n"] == 1:
        return f"{_number(aggregate_['mean'], places)} ({NO_SPREAD})"
    return f"{_number(aggregate_['mean'], places)} ± {_number(aggregate_['std'], places)}"


def alignment_side(alignment):
    """"mapped" when the model has a mapper, else "source" (the image encoder's own Gaussian), else None."""
    for side in ("mapped", "source"):
        if side in (alignment or {}):
            return side
    return None


def run_numbers(task, results):
    """One evaluation's numbers on its primary path, in the table's units (% where the paper uses %)."""
    path = results["paths"][0]
    percent = percent_metrics(task)
    values = {m: float(results[path][m]) * (100.0 if m in percent else 1.0)
              for m in task.table_metrics if m in results[path]}
    side = alignment_side(results.get("alignment"))
    return {
        "primary_path": path,
        "num_examples": results.get("num_examples"),
        "metrics": values,
        "alignment_side": side,
        "alignment": {m: float(results["alignment"][side][m]) for m in ALIGNMENT_METRICS} if side else {},
    }


def summarize(task, runs, keys):
    """The table's rows from `runs` (`{key: [{"seed", "plain": run_numbers, "tta": run_numbers}]}`)."""
    metrics = table_metrics(task)
    rows = []
    for name, key, tta in table_rows(keys):
        seeds = runs.get(key, [])
        main = [s["tta" if tta else "plain"] for s in seeds]
        side = main[0]["alignment_side"] if main else None
        row = {
            "name": name,
            "run": key,
            "tta": tta,
            "seeds": [s["seed"] for s in seeds],
            "primary_path": main[0]["primary_path"] if main else None,
            "metrics": {m: aggregate([n["metrics"][m] for n in main if m in n["metrics"]]) for m in metrics},
            "metrics_tta": None if tta else {
                m: aggregate([s["tta"]["metrics"][m] for s in seeds if m in s["tta"]["metrics"]]) for m in metrics
            },
            "alignment_side": side,
            "alignment": {m: aggregate([n["alignment"][m] for n in main if n["alignment"]])
                          for m in ALIGNMENT_METRICS},
            "paper_row": paper_row(task, name),
        }
        row["paper"] = dict(task.paper_results[row["paper_row"]]) if row["paper_row"] else None
        rows.append(row)
    return rows


def paper_only_rows(task):
    """The paper's rows for methods this library does not implement (e.g. Table 3's earlier work)."""
    ours = {name for name, _, _ in table_rows(run_keys(_all_methods()))}
    matched = {paper_row(task, name) for name in ours}
    return [name for name in task.paper_results if name not in matched]


def _all_methods():
    from cmva_keras.tasks import METHODS

    return METHODS


# ------------------------------------------------------------------- markdown
def format_markdown(task, summary):
    """`comparison.md`'s text from `summary` (what `compare` writes to `comparison.json`)."""
    metrics = table_metrics(task)
    n = summary["num_seeds"]
    direction = "higher" if task.higher_is_better else "lower"
    header = (["method"] + [metric_label(task, m) for m in metrics]
              + [f"{metric_label(task, m)} + TTA" for m in metrics]
              + ["latent"] + [LABELS[m] for m in ALIGNMENT_METRICS]
              + [f"paper: {metric_label(task, m)}" for m in metrics])
    lines = [
        f"# Methods compared: task {task.name}, the layout of the paper's {task.paper_table or 'table'}",
        "",
        f"Dataset {summary['dataset']}, variant {summary['variant']}; **{n} seed{'s' if n != 1 else ''}** "
        f"({', '.join(map(str, summary['seeds']))}). Each cell: mean ± sample standard deviation (ddof=1) over "
        f"the seeds, on each model's primary inference path (`primary path` in comparison.json); "
        f"{metric_label(task, task.primary_metric)}: {direction} is better. "
        f"Evaluated on the test split ({_examples(summary)})"
        + (", each run at a decision threshold calibrated on its training split (best per-recipe F1)."
           if summary.get("calibrate") else "."),
        "",
        f"Command: `{summary['command']}`",
        "",
    ]
    if n == 1:
        lines += [SINGLE_SEED_WARNING, ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary["rows"]:
        cells = [row["name"]]
        cells += [format_cell(row["metrics"][m], decimals(task, m)) for m in metrics]
        if row["tta"]:
            cells += ["—"] * len(metrics)  # the row itself is the TTA evaluation
        else:
            cells += [format_cell(row["metrics_tta"][m], decimals(task, m)) for m in metrics]
        cells.append(row["alignment_side"] or "—")
        cells += [format_cell(row["alignment"][m], decimals(task, m)) for m in ALIGNMENT_METRICS]
        cells += [_paper_cell(task, row["paper"], m) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    for name in summary["paper_only_rows"]:
        cells = [f"{name} (paper only)"] + ["—"] * (2 * len(metrics) + 1 + len(ALIGNMENT_METRICS))
        cells += [_paper_cell(task, task.paper_results[name], m) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"**paper:** columns are the paper's numbers, its {task.paper_table or 'table'}, measured on the paper's real datasets "
        f"and models, not on this comparison's data: compare the ordering of the methods, not the values. "
        f"Rows marked \"paper only\" are methods this library does not implement.",
        "",
        "**+ TTA:** the same runs evaluated with test-time augmentation (the task's views, predictions averaged). "
        "The paper reports TTA for CMVA only, as its own row, CMVA + TTA (whose + TTA columns are therefore empty).",
        "",
        "**Alignment** (the same runs, without TTA; with TTA for CMVA + TTA): W2 is the mean 2-Wasserstein "
        "distance between the image side's Gaussian and the target encoder's; median rank and R@k are those of "
        "retrieving each test example's target latent among all test examples' by the image side's mean. "
        "`latent` names the image side: mapped (the mapper's Gaussian, for models with a mapper) or source "
        "(the image encoder's own).",
        "",
        "Per-seed numbers: comparison.json; each run: " + ", ".join(
            f"{row['run']}/seed<s>" for row in summary["rows"] if not row["tta"]) + " (metrics.json, metrics_tta.json).",
        "",
    ]
    return "\n".join(lines)


def _paper_cell(task, paper, metric):
    if not paper or metric not in paper:
        return "—"
    return _number(float(paper[metric]), decimals(task, metric))


def _examples(summary):
    counts = sorted({s["plain"]["num_examples"] for seeds in summary["runs"].values() for s in seeds
                     if s["plain"].get("num_examples") is not None})
    if not counts:
        return "no examples"
    return f"{counts[0]} examples" if len(counts) == 1 else f"{counts[0]}-{counts[-1]} examples"


# ---------------------------------------------------------------------- chart
def plot_comparison(task, summary, path, figsize=(7.0, 4.5), dpi=100):
    """A bar per row: the primary metric's mean, the sample standard deviation as error bar, each seed a dot,
    the paper's value (on its datasets) a cross. Matplotlib `Figure` on an Agg canvas, no pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metric = task.primary_metric
    rows = [r for r in summary["rows"] if r["metrics"].get(metric, {}).get("n")]
    if not rows:
        raise ValueError(f"No run has a {metric!r} value to plot.")
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    axis = figure.add_subplot(1, 1, 1)
    x = np.arange(len(rows))
    means = [r["metrics"][metric]["mean"] for r in rows]
    stds = [r["metrics"][metric]["std"] or 0.0 for r in rows]
    axis.bar(x, means, yerr=stds, capsize=5, color="tab:blue", alpha=0.7,
             label=f"mean ± std over {summary['num_seeds']} seeds" if summary["num_seeds"] > 1
             else "1 seed (no spread)")
    for i, row in enumerate(rows):
        values = row["metrics"][metric]["values"]
        axis.scatter(np.full(len(values), x[i]), values, color="black", s=12, zorder=3,
                     label="one seed" if i == 0 else None)
    paper = [(i, row["paper"][metric]) for i, row in enumerate(rows) if row["paper"] and metric in row["paper"]]
    if paper:
        axis.scatter([i for i, _ in paper], [v for _, v in paper], marker="x", color="tab:red", s=60, zorder=4,
                     label="the paper (its real datasets)")
    axis.set_xticks(x)
    axis.set_xticklabels([r["name"] for r in rows], rotation=20, ha="right")
    axis.set_ylabel(metric_label(task, metric) + (" (higher is better)" if task.higher_is_better
                                                   else " (lower is better)"))
    axis.set_title(f"{task.name}: {metric_label(task, metric)} per method ({summary['dataset']}, "
                   f"{summary['variant']})")
    axis.grid(True, axis="y", alpha=0.3)
    heights = [m + s for m, s in zip(means, stds)] + [v for _, v in paper] + [
        v for r in rows for v in r["metrics"][metric]["values"]]
    finite = [h for h in heights if h is not None and math.isfinite(h)]
    if finite and max(finite) > 0:
        axis.set_ylim(0.0, 1.3 * max(finite))  # room for the legend above the bars
    axis.legend(loc="upper left", fontsize="small", ncol=3)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=dpi)
    return path


# ---------------------------------------------------------------- the folders
def _flat(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _read_config(run_dir):
    path = os.path.join(run_dir, run_files.CONFIG)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable config ({error}); delete {run_dir} to retrain that run.") from None


def check_workdir(workdir, task_name):
    """Raises ValueError when `workdir` holds a training run, or runs (or a comparison) of another task."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ValueError(f"--workdir {workdir} is a file; pass a folder (it is created if missing).")
    if os.path.exists(os.path.join(workdir, run_files.MODEL)):
        raise ValueError(
            f"--workdir {workdir} is a training run (it holds {run_files.MODEL}), not a comparison folder. "
            f"Pass a new folder, e.g. --workdir {os.path.join(os.path.dirname(os.path.abspath(workdir)), f'{task_name}-compare')}."
        )
    summary = os.path.join(workdir, SUMMARY)
    if os.path.exists(summary):
        with open(summary) as f:
            found = json.load(f).get("task")
        if found != task_name:
            raise ValueError(_mixed_tasks(workdir, workdir, found, task_name))
    for config_path in sorted(glob.glob(os.path.join(workdir, "*", "seed*", run_files.CONFIG))):
        run_dir = os.path.dirname(config_path)
        found = (_read_config(run_dir) or {}).get("task")
        if found != task_name:
            raise ValueError(_mixed_tasks(workdir, run_dir, found, task_name))


def _mixed_tasks(workdir, folder, found, task_name):
    return (
        f"{folder} holds a {found} run, but this comparison is for task {task_name}: a comparison folder holds "
        f"one task's runs. Pass another --workdir for {task_name} (e.g. "
        f"{os.path.join(os.path.dirname(os.path.abspath(workdir)), f'{task_name}-compare')}), or --task {found} "
        f"to continue the {found} comparison in {workdir}."
    )


def check_reusable(run_dir, config):
    """Raises ValueError when `run_dir`'s config.json (if any) is of another task, method or settings."""
    from cmva_keras.evaluation import method_label
    from cmva_keras.training.config import to_json

    found = _read_config(run_dir)
    if found is None:
        return
    if found.get("task") != config.task:
        raise ValueError(_mixed_tasks(os.path.dirname(os.path.dirname(run_dir)), run_dir, found.get("task"),
                                      config.task))
    import ml_collections

    found_label, wanted = method_label(ml_collections.ConfigDict(found)), method_label(config)
    if found_label != wanted:
        raise ValueError(
            f"{run_dir} holds a {found_label} run, but this folder is for {wanted}. Delete {run_dir} (it is "
            "retrained), or pass another --workdir."
        )
    expected, got = _flat(json.loads(to_json(config))), _flat(found)
    defaults = _defaults(config)
    differences = [
        f"{key}: {got.get(key, '(missing)')!r} there, {expected.get(key, '(missing)')!r} now"
        for key in sorted(set(expected) | set(got))
        if key not in IGNORED_KEYS and not _other_methods_key(key, config) and expected.get(key) != got.get(key)
        and not _added_since(key, got, expected, defaults)
    ]
    if differences:
        raise ValueError(
            f"{run_dir} holds a run trained with other settings ({'; '.join(differences[:6])}"
            f"{'; ...' if len(differences) > 6 else ''}). Pass the same --variant, --dataset and --set as the "
            f"command that trained it, or delete {run_dir} to retrain it, or pass another --workdir."
        )


def _defaults(config):
    """The flattened default config of `config`'s task and variant (what a key added since would have held)."""
    from cmva_keras.training.config import resolve_config, to_json

    try:
        return _flat(json.loads(to_json(resolve_config(config.task, config.get("variant", "default")))))
    except (ValueError, FileNotFoundError):
        return {}


def _added_since(key, got, expected, defaults):
    """True for a key the run's config.json lacks (the project added it after the run) whose value now is
    its default: a run trained before the key existed behaved as the default does."""
    return key not in got and key in defaults and expected.get(key) == defaults[key]


def _other_methods_key(key, config):
    """True for a `methods.<m>.*` key of a method this run does not train (it cannot change its result)."""
    parts = key.split(".")
    if len(parts) < 2 or parts[0] != "methods":
        return False
    used = {config.method} | ({"mapper"} if config.get("mapper", False) else set())
    return parts[1] not in used


def _newer(path, than):
    return os.path.exists(path) and os.path.getmtime(path) > os.path.getmtime(than)


# ----------------------------------------------------------------------- main
def run_config(task, variant, seed, method, mapper, *, dataset=None, manual_dir=None, data_dir=None,
               overrides=(), base_workdir=None):
    """The resolved config of one run of the comparison."""
    from cmva_keras.training.config import resolve_config

    for override in overrides:
        key = override.split("=", 1)[0].strip()
        if key in ("seed", "method", "mapper", "base_workdir", "task"):
            raise ValueError(
                f"--set {override}: the comparison sets {key} for each run itself; drop it "
                "(--seeds N sets the seeds 0..N-1, --methods the methods)."
            )
    config = resolve_config(task, variant, dataset=dataset, manual_dir=manual_dir, data_dir=data_dir,
                            method=method, mapper=mapper, overrides=overrides)
    config.seed = int(seed)
    if base_workdir:
        config.base_workdir = os.path.abspath(base_workdir)
    return config


def compare(task, *, seeds=3, variant="default", workdir=None, methods=None, mapper=True, dataset=None,
            manual_dir=None, data_dir=None, overrides=(), max_examples=None, plots=False, command=None,
            calibrate=False):
    """Trains (or reuses) and evaluates every method over `seeds` seeds; writes the comparison files.

    Args:
        task: a registered task's name ("food", "hand").
        seeds: the number of seeds; runs use seeds 0..seeds-1.
        methods: a subset of `cmva_keras.tasks.METHODS` (list or comma-separated string); default all.
        mapper: also the baselines "+ Mapper".
        overrides: `KEY=VALUE` config overrides applied to every run.
        max_examples: evaluate at most this many test examples per run.
        plots: write each run's evaluation figures (t-SNE, ...).
        command: the command line to record (default: this call).
        calibrate: classification: choose each run's decision threshold on
            its training split (best per-recipe F1) before evaluating, so no
            method is judged at a threshold its outputs are not calibrated
            for; it is saved into the run's model.keras.

    Returns:
        The summary written to `comparison.json`.

    Raises:
        ValueError: an unknown task or method, fewer than one seed, a workdir
            holding runs of another task or settings (the message names the
            folder and the fix).
    """
    from cmva_keras import tasks

    task_object = tasks.get(task)
    methods = methods or tasks.METHODS
    keys = run_keys(methods, mapper)
    calibrate = bool(calibrate)
    if calibrate and task_object.problem != "classification":
        raise ValueError(
            f"--calibrate_threshold sets a decision threshold, which only classification tasks have; "
            f"{task!r} is a {task_object.problem} task. Leave it out."
        )
    if int(seeds) < 1:
        raise ValueError(f"--seeds {seeds}: pass at least 1 (3 or more to see a spread).")
    seeds = int(seeds)
    overrides = list(overrides)
    probe = run_config(task, variant, 0, keys[0][1], keys[0][2], dataset=dataset, manual_dir=manual_dir,
                       data_dir=data_dir, overrides=overrides)
    workdir = workdir or os.path.join("workdirs", f"{task}-compare-{variant}")
    check_workdir(workdir, task)
    previous = _previous_summary(workdir)
    same_evaluation = previous is None or (
        previous.get("max_examples") == max_examples and bool(previous.get("calibrate", False)) == calibrate
    )
    command = command or (f"cmva_keras.comparison.compare({task!r}, seeds={seeds}, variant={variant!r}, "
                          f"workdir={workdir!r}, methods={[k for k, _, m in keys if not m]!r}, "
                          f"overrides={overrides!r})")

    runs, trained, evaluated = {}, [], []
    for seed in range(seeds):
        for key, method, with_mapper in keys:
            run_dir = os.path.join(workdir, key, f"seed{seed}")
            base = os.path.join(workdir, method, f"seed{seed}") if with_mapper else None
            config = run_config(task, variant, seed, method, with_mapper, dataset=dataset, manual_dir=manual_dir,
                                data_dir=data_dir, overrides=overrides, base_workdir=base)
            check_reusable(run_dir, config)
            if not os.path.exists(os.path.join(run_dir, run_files.MODEL)):
                from cmva_keras.training.loop import train

                logging.info("Training %s, seed %d, into %s.", key, seed, run_dir)
                train(config, run_dir)
                trained.append(run_dir)
            numbers = {"seed": seed, "workdir": run_dir}
            for tta, name in ((False, METRICS), (True, METRICS_TTA)):
                results = _evaluation(run_dir, name, tta, max_examples, plots, same_evaluation, evaluated,
                                      calibrate=calibrate and not tta)
                numbers["tta" if tta else "plain"] = run_numbers(task_object, results)
            runs.setdefault(key, []).append(numbers)

    summary = {
        "task": task,
        "workdir": workdir,
        "variant": variant,
        "dataset": probe.data.dataset,
        "num_seeds": seeds,
        "seeds": list(range(seeds)),
        "methods": [key for key, _, _ in keys],
        "command": command,
        "max_examples": max_examples,
        "calibrate": calibrate,
        "primary_metric": task_object.primary_metric,
        "higher_is_better": task_object.higher_is_better,
        "units": {m: "%" for m in percent_metrics(task_object)},
        "paper_table": task_object.paper_table,
        "rows": summarize(task_object, runs, keys),
        "paper_only_rows": paper_only_rows(task_object),
        "paper_results": task_object.paper_results,
        "runs": runs,
        "trained": trained,
        "evaluated": evaluated,
    }
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, SUMMARY), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(workdir, MARKDOWN), "w") as f:
        f.write(format_markdown(task_object, summary))
    plot_comparison(task_object, summary, os.path.join(workdir, CHART))
    logging.info("Wrote %s, %s and %s in %s.", MARKDOWN, SUMMARY, CHART, workdir)
    return summary


def _previous_summary(workdir):
    path = os.path.join(workdir, SUMMARY)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _evaluation(run_dir, name, tta, max_examples, plots, reuse, evaluated, calibrate=False):
    """A run's evaluation: reused when newer than its model and made the same way, else run (and recorded)."""
    path = os.path.join(run_dir, name)
    if reuse and _newer(path, os.path.join(run_dir, run_files.MODEL)):
        with open(path) as f:
            results = json.load(f)
        if (results.get("split") == "test" and bool(results.get("tta")) == tta
                and (not calibrate or results.get("calibrated_on") == "train")):
            return results
    from cmva_keras.evaluation import evaluate_run

    logging.info("Evaluating %s%s.", run_dir, " with TTA" if tta else "")
    evaluated.append(path)
    # Calibrating re-saves model.keras, so this run's other evaluation (TTA,
    # evaluated after it) is then older than the model and is redone.
    return evaluate_run(run_dir, tta=tta, max_examples=max_examples, plots=plots, calibrate=calibrate,
                        calibration_split="train")


__all__ = ["aggregate", "compare", "format_cell", "format_markdown", "plot_comparison", "run_keys", "summarize"]
