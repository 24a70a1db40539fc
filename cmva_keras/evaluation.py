"""Evaluating a trained run: both inference paths, the paper's metrics, and the figures.

`evaluate_run(workdir)` loads `model.keras` and `config.json`, predicts a split
along the mapper path (x -> E1 -> VE -> VD -> D2, CMVA) and the upper path
(D1(mu1), "without mapper"), scores both with `cmva_keras.metrics`, and writes:

- `metrics.json`: `{"mapper": {...}, "upper": {...}, "constant": {...}, ...}`
  ("constant": the best input-independent prediction, a chance reference), with for food
  `f1`, `iou` (per recipe, averaged), `f1_micro`, `iou_micro`, `f1_macro` at
  the threshold used, and for hands `epe_mm`, `thresholds_mm`, `pck`,
  `auc_20_50`, `auc_0_50`;
- `pck.png` (hands): PCK curves of both paths (the paper's Figures 4 and 5);
- `tsne.png`: t-SNE of E1 means, mapper means and E2 means (Figure 2);
- `poses.png` (hands): ground truth, mapper path and upper path (Figure 6).
"""

import json
import os

import ml_collections
import numpy as np
from absl import logging

from cmva_keras import metrics
from cmva_keras.training import run_files

PATHS = ("mapper", "upper")


def load_run(workdir):
    """`(model, config, vocabulary or None)` of a finished run; errors name the missing file."""
    import keras

    import cmva_keras  # noqa: F401  (registers the model's classes)

    model_path, config, vocabulary = run_files.read_run(workdir)
    return keras.models.load_model(model_path), ml_collections.ConfigDict(config), vocabulary


# ------------------------------------------------------------------ predictions
def _tta_views(images, task, crop_size=None):
    """Test-time augmentation views of a batch and how to undo each on a prediction.

    Food: five `crop_size` crops (centre and corners) of the larger test image
    and their horizontal mirrors, ten views (labels unchanged). Hands: the crop
    and its vertical mirror; the mirror flips the pose's y axis (the pipeline's
    `F = diag(1, -1, 1)` about the crop centre), undone on the output.
    """
    import tensorflow as tf

    if task == "food":
        height, width = int(images.shape[1]), int(images.shape[2])
        c = crop_size or min(height, width)
        offsets = [((height - c) // 2, (width - c) // 2), (0, 0), (0, width - c), (height - c, 0), (height - c, width - c)]
        crops = [images[:, top : top + c, left : left + c, :] for top, left in offsets]
        return [(view, None) for crop in crops for view in (crop, tf.image.flip_left_right(crop))]
    unflip = np.array([1.0, -1.0, 1.0], "float32")
    return [(images, None), (tf.image.flip_up_down(images), unflip)]


def _predict(model, images, path):
    images = np.asarray(images)
    return np.asarray(model.predict(images, path=path, batch_size=len(images), verbose=0))


def _predict_batch(model, images, path, task, tta, crop_size=None):
    if not tta:
        return _predict(model, images, path)
    outputs = []
    for view, undo in _tta_views(images, task, crop_size):
        prediction = _predict(model, view, path)
        outputs.append(prediction * undo if undo is not None else prediction)
    return np.mean(outputs, axis=0)


def collect(model, dataset, task, *, tta=False, max_examples=None, num_latents=600, crop_size=None):
    """Runs both paths over `dataset`; returns a dict of NumPy arrays.

    Keys: `y` (targets), `mapper`, `upper` (predictions), for hands `scale`
    (mm); and for the first `num_latents` examples `mu1`, `mu_m`, `mu2`, `y_latent`,
    `images_latent` (the latent means for the t-SNE figure).
    """
    import keras

    out = {k: [] for k in ("y", "mapper", "upper", "scale", "mu1", "mu_m", "mu2", "images")}
    seen = 0
    for batch in dataset:
        images, y = batch[0], batch[1]
        out["y"].append(np.asarray(y))
        for path in PATHS:
            out[path].append(_predict_batch(model, images, path, task, tta, crop_size))
        if task == "hand":
            out["scale"].append(np.asarray(batch[2]["scale"]))
        if task == "food" and crop_size and images.shape[1] != crop_size:
            images = _tta_views(images, task, crop_size)[0][0]  # the centre crop
        if seen < num_latents:
            mu1, mu_m = model.encode(images)
            out["mu1"].append(keras.ops.convert_to_numpy(mu1))
            out["mu_m"].append(keras.ops.convert_to_numpy(mu_m))
            out["mu2"].append(keras.ops.convert_to_numpy(model.encode_target(y)))
            if task == "hand":
                out["images"].append(np.asarray(images, dtype="uint8"))
        seen += int(np.asarray(y).shape[0])
        if max_examples and seen >= max_examples:
            break
    result = {k: np.concatenate(v)[: max_examples or None] for k, v in out.items() if v}
    for k in ("mu1", "mu_m", "mu2", "images"):
        if k in result:
            result[k] = result[k][:num_latents]
    return result


# ----------------------------------------------------------------- thresholds
def calibrate_threshold(y_true, probabilities, grid=np.linspace(0.05, 0.95, 19)):
    """The threshold on `grid` with the best per-recipe F1 (the Yummly protocol) on these examples."""
    scores = [metrics.ingredient_scores(y_true, probabilities, threshold=t)["f1"] for t in grid]
    return float(grid[int(np.argmax(scores))])


# --------------------------------------------------------------------- scores
def constant_baseline(task, collected):
    """The best input-independent prediction, as a chance reference.

    Food: each ingredient's frequency in the evaluated split as its
    probability, at the threshold with the best F1 (so, in hindsight, the best
    constant set of ingredients). Hands: the split's mean normalised pose.
    Both use the evaluated labels, so the baseline is optimistic.
    """
    y = collected["y"]
    prediction = np.broadcast_to(y.mean(axis=0, keepdims=True), y.shape)
    if task == "food":
        return prediction, calibrate_threshold(y, prediction, grid=np.unique(np.round(y.mean(axis=0), 4))[:-1])
    return prediction, None


def score(task, collected, threshold=0.5):
    """`{path: metrics}` for both paths and the constant baseline."""
    results = {}
    baseline, baseline_threshold = constant_baseline(task, collected)
    for path in PATHS + ("constant",):
        predictions = baseline if path == "constant" else collected[path]
        if task == "food":
            t = baseline_threshold if path == "constant" else threshold
            values = metrics.ingredient_scores(collected["y"], predictions, threshold=t)
        else:
            scale = collected["scale"][:, None, None]
            values = metrics.pose_scores(collected["y"] * scale, predictions * scale)
        results[path] = {k: (np.asarray(v).tolist() if np.ndim(v) else float(v)) for k, v in values.items()}
    return results


def format_table(results, task):
    """A plain-text table of both paths side by side."""
    keys = ("f1", "iou", "f1_micro", "iou_micro", "f1_macro") if task == "food" else ("epe_mm", "auc_20_50", "auc_0_50")
    lines = [f"{'metric':<12}{'mapper (CMVA)':>16}{'upper (no mapper)':>20}{'constant':>12}"]
    for key in keys:
        lines.append(
            f"{key:<12}{results['mapper'][key]:>16.4f}{results['upper'][key]:>20.4f}{results['constant'][key]:>12.4f}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------- plots
TOP_INGREDIENTS = 6  # food t-SNE: colour by the most frequent of these ingredients
SPREAD_QUARTILES = ("1 (curled)", "2", "3", "4 (open)")


def latent_labels(task, y, vocabulary=None):
    """What colours the t-SNE (Figure 2): `(labels (N,) strings, legend title)`.

    Food: the first of the split's six most frequent ingredients that a
    recipe has (its name when `vocabulary` is given), else "none of these".
    Hands: the quartile of the mean distance from the palm root (`keypoints.ROOT`)
    to the five fingertips (`keypoints.TIPS`), from curled to open.
    """
    from cmva_keras import keypoints

    y = np.asarray(y)
    if task == "food":
        top = np.argsort(-y.sum(axis=0), kind="stable")[:TOP_INGREDIENTS]
        names = [vocabulary[i] if vocabulary else f"ingredient {i}" for i in top] + ["none of these"]
        present = y[:, top] > 0.5
        index = np.where(present.any(axis=1), np.argmax(present, axis=1), len(top))
        return np.array(names)[index], "most frequent ingredient present"
    pose = y.reshape(len(y), keypoints.NUM_KEYPOINTS, 3)
    tips, root = pose[:, list(keypoints.TIPS)], pose[:, keypoints.ROOT, None]
    spread = np.linalg.norm(tips - root, axis=-1).mean(axis=1)
    quartile = np.digitize(spread, np.quantile(spread, [0.25, 0.5, 0.75]))
    return np.array(SPREAD_QUARTILES)[quartile], "fingertip spread quartile"


def write_plots(workdir, task, collected, results, vocabulary=None):
    """The figures listed in the module docstring; returns their paths."""
    from cmva_keras import plots

    paths = []
    n = len(collected.get("mu1", ()))
    if n >= 10:
        path = os.path.join(workdir, "tsne.png")
        labels, label_title = latent_labels(task, collected["y"][:n], vocabulary)
        plots.plot_latent_tsne(
            {"E1 means": collected["mu1"], "mapper means": collected["mu_m"], "E2 means": collected["mu2"]},
            labels, path, perplexity=min(30.0, (n - 1) / 3.0), title="Latent means (t-SNE)",
            label_title=label_title,
        )
        paths.append(path)
    if task == "hand":
        path = os.path.join(workdir, "pck.png")
        plots.plot_pck_curves(
            {
                "CMVA (mapper path)": (results["mapper"]["thresholds_mm"], results["mapper"]["pck"]),
                "without mapper (upper path)": (results["upper"]["thresholds_mm"], results["upper"]["pck"]),
            },
            path, title="3D PCK",
        )
        paths.append(path)
        path = os.path.join(workdir, "poses.png")
        k = min(6, len(collected["images"]))
        plots.plot_pose_grid(
            collected["images"][:k], collected["y"][:k],
            {"mapper path": collected["mapper"][:k], "upper path": collected["upper"][:k]}, path,
        )
        paths.append(path)
    return paths


# ----------------------------------------------------------------------- main
def evaluate_run(workdir, *, split="test", tta=False, threshold=None, calibrate=False,
                 calibration_split="train", max_examples=None, plots=True, batch_size=None):
    """Evaluates `workdir`'s model on `split`; writes `metrics.json` (and plots); returns the results.

    Args:
        threshold: food: a fixed decision threshold (default: the model's saved one).
        calibrate: food: choose the threshold with the best F1 on
            `calibration_split` and save it into `model.keras`.
        tta: average predictions over the test-time augmentation views.
        max_examples: evaluate at most this many examples.
    """
    from cmva_keras.training import setup

    model, config, vocabulary = load_run(workdir)
    task = config.task
    if batch_size:
        config.train.batch_size = int(batch_size)
    results = {"task": task, "split": split, "tta": bool(tta), "dataset": config.data.dataset}
    if task == "food" and calibrate:
        calibration = collect(model, setup.evaluation_dataset(config, calibration_split), task,
                              max_examples=max_examples, num_latents=0)
        threshold = calibrate_threshold(calibration["y"], calibration["mapper"])
        model.set_threshold(threshold)
        model.save(os.path.join(workdir, run_files.MODEL))
        results["calibrated_on"] = calibration_split
        logging.info("Calibrated threshold %.2f on %s; saved into model.keras.", threshold, calibration_split)
    # Food TTA cuts its crops from a larger centre crop of the resized image.
    tta_crop = config.data.crop_size if (tta and task == "food") else None
    collected = collect(
        model, setup.evaluation_dataset(config, split, tta=tta), task, tta=tta, max_examples=max_examples,
        crop_size=tta_crop,
    )
    results["num_examples"] = int(len(collected["y"]))
    if task == "food":
        threshold = model.threshold if threshold is None else float(threshold)
        results["threshold"] = threshold
    results.update(score(task, collected, threshold if task == "food" else 0.5))
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(results, f, indent=1)
    if plots:
        results["plots"] = write_plots(workdir, task, collected, results, vocabulary)
    return results
