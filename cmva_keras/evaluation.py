"""Evaluating a trained run of any method: every inference path, the paper's metrics, alignment, figures.

`evaluate_run(workdir)` loads `model.keras` and `config.json`, predicts a split
along each of the model's inference paths (CMVA: the mapper path
x -> E1 -> VE -> VD -> D2 and the upper path D1(mu1), "without mapper";
a baseline: its own paths; "+ Mapper": the mapper path and the wrapped
baseline's), scores them with the task's metrics (`Task.score`), measures
alignment in latent space (`cmva_keras.metrics.alignment_scores`), and writes:

- `metrics.json`: `{path: {...}, "constant": {...}, "alignment": {...}, ...}`
  ("constant": the task's best input-independent prediction, a chance
  reference);
- `tsne.png`: t-SNE of the image-side, mapper and target-encoder means (Figure 2);
- the task's own figures (hands: `pck.png`, `poses.png`).

Nothing here branches on the task's name: the `Task` object answers.
"""

import json
import os

import ml_collections
import numpy as np
from absl import logging

from cmva_keras import metrics
from cmva_keras.training import run_files

LATENT_NAMES = {"source": "image encoder means", "mapped": "mapper means", "target": "target encoder means"}


def load_run(workdir):
    """`(model, config, vocabulary or None)` of a finished run; errors name the missing file."""
    import keras

    import cmva_keras  # noqa: F401  (registers the model's classes)

    model_path, config, vocabulary = run_files.read_run(workdir)
    return keras.models.load_model(model_path), ml_collections.ConfigDict(config), vocabulary


def method_label(config):
    """"CMVA", "CM-VAE", "CADA-VAE + Mapper", ...: the run's method as the paper's tables name it."""
    from cmva_keras.tasks import METHOD_NAMES

    method = config.get("method", "cmva")
    return METHOD_NAMES.get(method, method) + (" + Mapper" if config.get("mapper", False) else "")


# ------------------------------------------------------------------ predictions
def _predict(model, images, path):
    images = np.asarray(images)
    return np.asarray(model.predict(images, path=path, batch_size=len(images), verbose=0))


def _predict_batch(model, images, path, task, config, tta):
    if not tta:
        return _predict(model, images, path)
    outputs = []
    for view, undo in task.tta_views(images, config):
        prediction = _predict(model, view, path)
        outputs.append(prediction * undo if undo is not None else prediction)
    return np.mean(outputs, axis=0)


def collect(model, dataset, task, config, *, tta=False, max_examples=None, num_images=6):
    """Runs every path of `model` over `dataset` (batches of `(x, y[, extras])`); returns NumPy arrays.

    Keys: `y` (targets), one per inference path (predictions), each extra
    (e.g. `scale` for hands), `images` (the first `num_images` plain test
    views), and `latents`: `{side: (means, log_vars)}` over the whole split
    (see `StagedModel.latent_distributions`).
    """
    import keras

    out = {"y": [], "images": [], **{path: [] for path in model.INFERENCE_PATHS}}
    extras, latents = {}, {}
    seen = 0
    for batch in dataset:
        images, y = batch[0], batch[1]
        out["y"].append(np.asarray(y))
        for path in model.INFERENCE_PATHS:
            out[path].append(_predict_batch(model, images, path, task, config, tta))
        for key, value in (batch[2] if len(batch) > 2 else {}).items():
            extras.setdefault(key, []).append(np.asarray(value))
        plain = task.centre_view(images, config) if tta else images
        for side, (mean, log_var) in model.latent_distributions(plain, y).items():
            latents.setdefault(side, ([], []))
            latents[side][0].append(keras.ops.convert_to_numpy(mean))
            latents[side][1].append(keras.ops.convert_to_numpy(log_var))
        if seen < num_images:
            out["images"].append(np.asarray(plain))
        seen += int(np.asarray(y).shape[0])
        if max_examples and seen >= max_examples:
            break
    limit = max_examples or None
    result = {k: np.concatenate(v)[:limit] for k, v in {**out, **extras}.items() if v}
    result["images"] = result.get("images", np.zeros((0,)))[:num_images]
    result["latents"] = {
        side: (np.concatenate(means)[:limit], np.concatenate(log_vars)[:limit])
        for side, (means, log_vars) in latents.items()
    }
    result["extras"] = {key: result[key] for key in extras}
    return result


# ----------------------------------------------------------------- thresholds
THRESHOLD_GRID = np.linspace(0.05, 0.95, 19)


def calibrate_threshold(y_true, probabilities, grid=THRESHOLD_GRID):
    """The threshold on `grid` with the best per-recipe F1 (the Yummly protocol) on these examples."""
    scores = [metrics.ingredient_scores(y_true, probabilities, threshold=t)["f1"] for t in grid]
    return float(grid[int(np.argmax(scores))])


# --------------------------------------------------------------------- scores
def score(task, collected, paths, threshold=0.5):
    """`{path: metrics}` for each of `paths` and the task's chance reference ("constant")."""
    results = {}
    y, extras = collected["y"], collected.get("extras", {})
    baseline, baseline_threshold = task.chance(y)
    for path in tuple(paths) + ("constant",):
        if path == "constant":
            values = task.score(y, baseline, extras, threshold=baseline_threshold or 0.5)
        else:
            values = task.score(y, collected[path], extras, threshold=threshold)
        results[path] = {k: (np.asarray(v).tolist() if np.ndim(v) else float(v)) for k, v in values.items()}
    return results


def format_table(results, task):
    """A plain-text table of every path and the constant reference, side by side (`task`: a `Task` or its name)."""
    if isinstance(task, str):
        from cmva_keras import tasks

        task = tasks.get(task)
    columns = list(results["paths"]) + ["constant"]
    lines = [f"{'metric':<12}" + "".join(f"{c:>16}" for c in columns)]
    for key in task.table_metrics:
        lines.append(f"{key:<12}" + "".join(f"{results[c][key]:>16.4f}" for c in columns))
    for side, values in results.get("alignment", {}).items():
        lines.append(
            f"alignment ({side} -> target): w2 {values['w2']:.3f}, median rank {values['median_rank']:.0f} "
            f"of {values['num_candidates']}, R@1/5/10 {values['r_at_1']:.3f} / {values['r_at_5']:.3f} / "
            f"{values['r_at_10']:.3f}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------- plots
def write_plots(workdir, task, collected, results, vocabulary=None, num_points=600):
    """The t-SNE figure and the task's own figures; returns their paths."""
    from cmva_keras import plots

    paths = []
    latents = collected["latents"]
    n = min(num_points, len(collected["y"]))
    if n >= 10:
        path = os.path.join(workdir, "tsne.png")
        labels, label_title = task.latent_labels(collected["y"][:n], vocabulary)
        spaces = {
            LATENT_NAMES[side]: latents[side][0][:n]
            for side in ("source", "mapped", "target")
            if side in latents and latents[side][0].shape[-1] == latents["target"][0].shape[-1]
        }
        plots.plot_latent_tsne(
            spaces, labels, path, perplexity=min(30.0, (n - 1) / 3.0),
            title=f"Latent means (t-SNE): {results.get('method', '')}", label_title=label_title,
        )
        paths.append(path)
    paths += task.write_figures(workdir, collected, results, results["paths"])
    return paths


# ----------------------------------------------------------------------- main
def evaluate_run(workdir, *, split="test", tta=False, threshold=None, calibrate=False,
                 calibration_split="train", max_examples=None, plots=True, batch_size=None):
    """Evaluates `workdir`'s model on `split`; writes `metrics.json` (and plots); returns the results.

    Args:
        threshold: classification: a fixed decision threshold (default: the
            model's saved one).
        calibrate: classification: choose the threshold with the best F1 on
            `calibration_split` and save it into `model.keras`.
        tta: average predictions over the task's test-time views.
        max_examples: evaluate at most this many examples.
    """
    from cmva_keras import tasks
    from cmva_keras.training import setup

    model, config, vocabulary = load_run(workdir)
    task = tasks.get(config.task)
    if batch_size:
        config.train.batch_size = int(batch_size)
    results = {
        "task": task.name, "method": method_label(config), "split": split, "tta": bool(tta),
        "dataset": config.data.dataset, "paths": list(model.INFERENCE_PATHS),
    }
    classification = model.task == "classification"
    if calibrate and not classification:
        raise ValueError(f"--calibrate_threshold is for classification tasks; {task.name!r} is a regression task.")
    if calibrate:
        calibration = collect(model, setup.evaluation_dataset(config, calibration_split), task, config,
                              max_examples=max_examples, num_images=0)
        threshold = calibrate_threshold(calibration["y"], calibration[model.INFERENCE_PATHS[0]])
        model.set_threshold(threshold)
        model.save(os.path.join(workdir, run_files.MODEL))
        results["calibrated_on"] = calibration_split
        logging.info("Calibrated threshold %.2f on %s; saved into model.keras.", threshold, calibration_split)
    collected = collect(
        model, setup.evaluation_dataset(config, split, tta=tta), task, config, tta=tta, max_examples=max_examples,
    )
    results["num_examples"] = int(len(collected["y"]))
    threshold = (model.threshold if threshold is None else float(threshold)) if classification else 0.5
    if classification:
        results["threshold"] = threshold
    results.update(score(task, collected, model.INFERENCE_PATHS, threshold))
    results["alignment"] = metrics.alignment_scores(collected["latents"])
    with open(os.path.join(workdir, "metrics_tta.json" if tta else "metrics.json"), "w") as f:
        json.dump(results, f, indent=1)
    if plots:
        results["plots"] = write_plots(workdir, task, collected, results, vocabulary)
    return results
