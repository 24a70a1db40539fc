"""Predicting from image files with a finished run or an exported SavedModel (`scripts/predict.py`).

Two sources, one interface (`Predictor.predict(images) -> predictions`):

- `KerasPredictor`: a training workdir's `model.keras`, on any Keras backend,
  along any of the method's inference paths (`INFERENCE_PATHS`; the primary
  one, first, by default, as in evaluation).
- `SavedModelPredictor`: a SavedModel written by `scripts/export.py`, loaded
  with `tf.saved_model.load` (TensorFlow is always installed, so this works
  whatever `KERAS_BACKEND` says). An export serves only the primary path. Its
  task is read from its outputs (`Task.serving_outputs`' names).

Images are decoded with `tf.io.decode_image` (JPEG, PNG, GIF, BMP, WebP; the
first frame of an animation; grey or RGBA converted to RGB), the decoder of
the SavedModel's `serving_bytes` signature. A Keras model's input then goes
through the task's `serving_preprocessor`, the transform the SavedModel holds,
so an image of any size is treated as in serving (food: resized to
`data.image_size`, then the centre `data.crop_size` square; hands: the image
is taken as a hand crop and resized to `data.image_size` squared) and both
sources give the same numbers.

What is reported (`predict_files`):

- classification (food): per image, the labels whose probability is above
  the model's saved decision threshold, most probable first;
- hand poses (21 x 3): per image, the pose in the model's units (relative to
  the palm root, divided by the middle finger's MCP-PIP bone length) and,
  given `scale_mm` (that bone's length in mm), in millimetres; plus
  `write_pose_files`: a PNG with one 3D skeleton per input and a JSON file.

`hand_side` ("left"/"right"): a hand model trained with the side as an
input (`data.hand_side_input`, the paper's protocol) needs it, and mirrors a
left crop before the model and its pose back, as its export does; other hand
models infer the side themselves and only record it.

`run` is the command line's whole behaviour: the table (or `--json`) on
stdout; hands also write `poses.png` and `poses.json` into the output folder,
by default `./predictions` (not the workdir, which may be shared or reused by
`scripts/compare.py`). Exit status 0 when at least one image was predicted,
1 when none was or the model or an option cannot be used.

Bad input: problems with the model or the options raise `PredictionError`,
whose message names the problem and the fix (`run` prints it and returns 1).
A bad image file (missing, a folder, empty, not an image, corrupt) is
reported in `skipped` (and on stderr by `run`) and the other files are still
predicted.
"""

import dataclasses
import json
import os
import re
import zipfile

import numpy as np

from cmva_keras import keypoints

POSE_SHAPE = (keypoints.NUM_KEYPOINTS, 3)
POSE_UNITS = "palm-rooted, divided by the middle finger's MCP-PIP bone length"
POSES_PNG = "poses.png"
POSES_JSON = "poses.json"
LABELS_JSON = "predictions.json"
MAX_FIGURE_POSES = 32  # panels in the PNG; a larger figure is unreadable (the JSON has every pose)
FIGURE_COLUMNS = 4
BATCH_SIZE = 32
HAND_SIDES = ("left", "right")
# What an exported SavedModel's serving_default outputs say about its task
# (the names come from each task's `serving_outputs`).
SAVED_MODEL_TASKS = {"ingredient_probs": "food", "pose_3d": "hand"}


class PredictionError(ValueError):
    """The model or the options cannot be used; the message names the problem and the fix."""


# ---------------------------------------------------------------------- images
def _decode_error_reason(error):
    """A short reason for a `tf.io.decode_image` failure, without TensorFlow's op decoration."""
    message = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", str(error)).strip()
    if "Unknown image file format" in message:
        return "not an image (expected a JPEG, PNG, GIF, BMP or WebP file)"
    if "Input is empty" in message:
        return "the file is empty"
    return f"a corrupt or truncated image ({message})"


def read_image(path):
    """The image file `path` as uint8 `(H, W, 3)`; raises `ValueError` with the reason it cannot be read."""
    import tensorflow as tf

    if not os.path.exists(path):
        raise ValueError("no such file")
    if os.path.isdir(path):
        raise ValueError("a folder, not an image file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise ValueError(f"cannot be read ({error.strerror or error})") from None
    try:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(_decode_error_reason(error)) from None
    image = np.asarray(image)
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("an image without pixels")
    return image


def read_images(paths):
    """`(images, skipped)`: `[(path, uint8 (H, W, 3))]` of the readable files, `[(path, reason)]` of the others."""
    images, skipped = [], []
    for path in paths:
        try:
            images.append((path, read_image(path)))
        except ValueError as error:
            skipped.append((path, str(error)))
    return images, skipped


# ------------------------------------------------------------------ predictors
@dataclasses.dataclass
class Predictor:
    """What both sources share.

    Attributes:
        task: the run's `cmva_keras.tasks.Task`.
        path: the inference path predicted along.
        source: `{"workdir": ...}` or `{"saved_model": ...}`, for the reports.
        method: the method's name ("CMVA", "CM-VAE + Mapper", ...), or None (a SavedModel).
        vocabulary: classification: the label names in output order, else None.
        threshold: classification: the saved decision threshold, else None.
    """

    task: object
    path: str
    source: dict
    method: str = None
    vocabulary: list = None
    threshold: float = None
    takes_side: bool = False  # a hand model trained with the side as an input (data.hand_side_input)

    @property
    def classification(self):
        return self.task.problem == "classification"

    def predict(self, images, hand_side=None):
        """Predictions for a list of uint8 `(H, W, 3)` images of any sizes: `(N,) + target shape`.

        `hand_side` ("left"/"right") is used by a model that takes the side
        (`takes_side`) and ignored otherwise.
        """
        raise NotImplementedError

    def side_codes(self, count, hand_side):
        """The `hand_side` input of a side-taking model for `count` images (0 left, 1 right)."""
        if hand_side is None:
            raise PredictionError(
                "This hand model was trained with the hand side as an input (data.hand_side_input, the paper's "
                "protocol): pass --hand_side left or --hand_side right."
            )
        return np.full((count,), HAND_SIDES.index(hand_side), np.int32)

    def predict_with_decisions(self, images, hand_side=None):
        """`(predictions, decisions)`: classification's 0/1 labels `predictions > threshold`, else None."""
        predictions = self.predict(images, hand_side=hand_side)
        if not self.classification:
            return predictions, None
        return predictions, (predictions > self.threshold).astype("int32")

    def model_view(self, images):
        """The images as the model sees them, for the pose figure (here: as given)."""
        return list(images)


class KerasPredictor(Predictor):
    """A training workdir's `model.keras` on the current Keras backend."""

    def __init__(self, workdir, path=None):
        from cmva_keras import evaluation, tasks

        try:
            model, config, vocabulary = evaluation.load_run(workdir)
        except FileNotFoundError as error:
            raise PredictionError(str(error)) from None
        except (ValueError, TypeError, OSError, zipfile.BadZipFile) as error:
            raise PredictionError(
                f"{os.path.join(workdir, 'model.keras')} cannot be loaded ({error}). "
                "Train the run again (scripts/train.py --workdir ...) or pass another --workdir."
            ) from None
        try:
            task = tasks.get(config.task)
        except ValueError as error:
            raise PredictionError(f"{workdir}: {error}") from None
        paths = tuple(model.INFERENCE_PATHS)
        if path is not None and path not in paths:
            raise PredictionError(
                f"--path {path!r} is not an inference path of this {evaluation.method_label(config)} model; "
                f"choose one of {', '.join(paths)} (default {paths[0]})."
            )
        classification = task.problem == "classification"
        super().__init__(
            task=task, path=path or paths[0], source={"workdir": workdir}, method=evaluation.method_label(config),
            vocabulary=vocabulary, threshold=model.threshold if classification else None,
        )
        self.model = model
        self.preprocess = task.serving_preprocessor(config.data)
        self.takes_side = bool(config.data.get("hand_side_input", False))

    def prepare(self, images):
        """The model's input batch: each image through the task's serving preprocessing, stacked."""
        return np.stack([np.asarray(self.preprocess(image[np.newaxis]))[0] for image in images])

    def model_view(self, images):
        return list(self.prepare(images))

    def predict(self, images, hand_side=None):
        batch = self.prepare(images)
        if not self.takes_side:
            return np.asarray(self.model.predict(batch, path=self.path, batch_size=BATCH_SIZE, verbose=0))
        from cmva_keras.tasks.hand import mirror_left_images, unmirror_left_poses

        sides = self.side_codes(len(batch), hand_side)
        batch = np.asarray(mirror_left_images(batch, sides))
        poses = self.model.predict(batch, path=self.path, batch_size=BATCH_SIZE, verbose=0)
        return np.asarray(unmirror_left_poses(poses, sides))


class SavedModelPredictor(Predictor):
    """An exported SavedModel (`scripts/export.py`): its `serving_default` signature, preprocessing included."""

    def __init__(self, saved_model_dir, path=None):
        import tensorflow as tf

        from cmva_keras import tasks

        _check_saved_model_dir(saved_model_dir)
        if path is not None:
            raise PredictionError(
                f"--path {path!r}: an exported SavedModel serves only its method's primary path. "
                "Drop --path, or pass the run's --workdir to choose a path."
            )
        try:
            loaded = tf.saved_model.load(saved_model_dir)
        except Exception as error:  # noqa: BLE001 - protobuf, TF op and file errors alike: the folder is unusable
            raise PredictionError(
                f"--saved_model {saved_model_dir} cannot be loaded ({type(error).__name__}: {error}). "
                "Export the run again with scripts/export.py."
            ) from None
        serve = loaded.signatures.get("serving_default")
        outputs = dict(serve.structured_outputs) if serve is not None else {}
        found = [name for key, name in SAVED_MODEL_TASKS.items() if key in outputs]
        if not found:
            raise PredictionError(
                f"{saved_model_dir} is not a SavedModel of scripts/export.py: its serving_default outputs "
                f"{sorted(outputs) or 'nothing'}, none of {', '.join(SAVED_MODEL_TASKS)}. "
                "Export the run with scripts/export.py, or pass its --workdir."
            )
        task = tasks.get(found[0])
        vocabulary = threshold = None
        if task.problem == "classification" and "vocabulary" in loaded.signatures:
            count = int(outputs["ingredient_probs"].shape[-1])
            names = loaded.signatures["vocabulary"](indices=tf.range(count, dtype=tf.int32))["names"]
            vocabulary = [name.decode("utf-8") for name in names.numpy()]
        if task.problem == "classification":
            threshold = _saved_threshold(loaded)
        super().__init__(
            task=task, path="primary (as exported)", source={"saved_model": saved_model_dir},
            vocabulary=vocabulary, threshold=threshold,
        )
        self.serve = serve
        self.output_name = "ingredient_probs" if task.problem == "classification" else "pose_3d"
        self.takes_side = "hand_side" in serve.structured_input_signature[1]

    def _serve(self, images, hand_side=None):
        import tensorflow as tf

        side = {"hand_side": tf.constant(self.side_codes(1, hand_side))} if self.takes_side else {}
        # One call per image: the signature resizes inside, but a batch must share one size.
        results = [self.serve(images=tf.constant(image[np.newaxis]), **side) for image in images]
        return {key: np.concatenate([r[key].numpy() for r in results]) for key in results[0]}

    def predict(self, images, hand_side=None):
        return self._serve(images, hand_side)[self.output_name]

    def predict_with_decisions(self, images, hand_side=None):
        """`(predictions, decisions)`; classification's decisions are the export's own `ingredients`."""
        outputs = self._serve(images, hand_side)
        return outputs[self.output_name], outputs.get("ingredients")


def _check_saved_model_dir(saved_model_dir):
    """Raises a `PredictionError` naming the fix unless `saved_model_dir` holds a `saved_model.pb`."""
    if not os.path.isdir(saved_model_dir):
        raise PredictionError(
            f"--saved_model {saved_model_dir} does not exist; pass an exported version folder "
            "(scripts/export.py prints it, e.g. exported/cmva_food/1)."
        )
    if os.path.exists(os.path.join(saved_model_dir, "saved_model.pb")):
        return
    versions = sorted((int(d) for d in os.listdir(saved_model_dir) if d.isdigit()), reverse=True)
    hint = (
        f"pass one of its versions, e.g. {os.path.join(saved_model_dir, str(versions[0]))}" if versions
        else "pass a version folder that scripts/export.py wrote (e.g. exported/cmva_food/1)"
    )
    raise PredictionError(f"--saved_model {saved_model_dir} holds no saved_model.pb; {hint}.")


def _saved_threshold(loaded):
    """The exported model's decision threshold, for the report; None when its `threshold` variables disagree.

    A "+ Mapper" export holds its wrapped baseline's threshold variable too;
    the decisions come from the export's `ingredients` output either way.
    """
    values = {float(v.numpy()) for v in loaded.variables if v.name.split("/")[-1] == "threshold:0"}
    return values.pop() if len(values) == 1 else None


def load_predictor(*, workdir=None, saved_model=None, path=None, task=None):
    """The `Predictor` of a workdir or a SavedModel (exactly one), checked against an expected `task` name.

    Raises:
        PredictionError: neither or both sources, a missing or unfinished
            workdir, a folder that is not an export, an unknown path, or a
            model of another task than `task`.
    """
    if bool(workdir) == bool(saved_model):
        raise PredictionError(
            "Pass the model to predict with: --workdir DIR (a finished training run) or --saved_model DIR "
            "(an exported version folder), one of the two."
        )
    predictor = KerasPredictor(workdir, path) if workdir else SavedModelPredictor(saved_model, path)
    if task and task != predictor.task.name:
        source = workdir or saved_model
        raise PredictionError(
            f"--task {task}: {source} holds a {predictor.task.name} model, which cannot predict {task} images. "
            f"Pass a {task} run's --workdir (or its export), or drop --task."
        )
    if predictor.task.problem != "classification" and not _is_pose_task(predictor.task):
        raise PredictionError(
            f"Task {predictor.task.name!r} predicts neither labels nor 21 x 3 hand poses; "
            "scripts/predict.py reports only those. Call the model's predict() from Python instead."
        )
    return predictor


def _is_pose_task(task):
    try:
        return tuple(task.target_shape(None)) == POSE_SHAPE
    except Exception:  # noqa: BLE001 - a task that needs its vocabulary for its shape is not a pose task
        return False


# ------------------------------------------------------------------ reporting
def _check_options(predictor, scale_mm, hand_side):
    """Raises a `PredictionError` for options that do not apply to the predictor's task, or bad values."""
    if not predictor.classification:
        if scale_mm is not None and not (np.isfinite(scale_mm) and scale_mm > 0):
            raise PredictionError(
                f"--scale_mm {scale_mm}: the middle finger's MCP-PIP bone length in mm must be positive (e.g. 30)."
            )
        if hand_side is not None and hand_side not in HAND_SIDES:
            raise PredictionError(f"--hand_side {hand_side!r}: choose left or right.")
        return
    source = next(iter(predictor.source.values()))
    for flag, value in (("--scale_mm", scale_mm), ("--hand_side", hand_side)):
        if value is not None:
            raise PredictionError(
                f"{flag} applies to hand-pose models; {source} is a {predictor.task.name} (classification) model. "
                f"Drop {flag}, or pass a hand run."
            )


def labels_above_threshold(probabilities, vocabulary, decisions):
    """`[{"name", "probability"}]` of the labels `decisions` selects, most probable first (ties: output order)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    chosen = np.flatnonzero(np.asarray(decisions))
    order = chosen[np.argsort(-probabilities[chosen], kind="stable")]
    names = vocabulary or [f"label {i}" for i in range(len(probabilities))]
    return [{"name": names[i], "probability": float(probabilities[i])} for i in order]


def predict_files(predictor, image_paths, *, scale_mm=None, hand_side=None):
    """Predicts every readable file of `image_paths`; returns `(report, model_inputs)`.

    `report` is JSON-ready: `task`, `source`, `method`, `path`,
    `predictions` (one entry per predicted file, in the given order: `image`,
    and `labels` for classification, or `pose_3d` (21 x 3, model units) and,
    with `scale_mm`, `pose_3d_mm`), and `skipped` (`[{"image", "reason"}]`);
    classification adds `threshold`, poses add `units`, `scale_mm`,
    `hand_side` and `side_as_input` (whether the model used the side: a
    model trained with `data.hand_side_input` needs it). `model_inputs` holds, per
    prediction, the image the model saw (the preprocessed input of a Keras
    model, the decoded file for a SavedModel), for the pose figure.

    Raises:
        PredictionError: `scale_mm` or `hand_side` given for a classification
            model, or a bad value of either.
    """
    _check_options(predictor, scale_mm, hand_side)
    report = {"task": predictor.task.name, "source": predictor.source, "method": predictor.method,
              "path": predictor.path}
    if predictor.classification:
        report["threshold"] = predictor.threshold
    else:
        report.update(units=POSE_UNITS, scale_mm=scale_mm, hand_side=hand_side, side_as_input=predictor.takes_side)
        if predictor.takes_side:
            predictor.side_codes(0, hand_side)  # refuses a missing side before any image is read
    images, skipped = read_images(image_paths)
    report["predictions"] = []
    report["skipped"] = [{"image": path, "reason": reason} for path, reason in skipped]
    model_inputs = []
    for start in range(0, len(images), BATCH_SIZE):
        names, chunk = zip(*images[start : start + BATCH_SIZE])
        predictions, decisions = predictor.predict_with_decisions(list(chunk), hand_side=hand_side)
        for i, (name, prediction) in enumerate(zip(names, predictions)):
            entry = {"image": name}
            if predictor.classification:
                entry["labels"] = labels_above_threshold(prediction, predictor.vocabulary, decisions[i])
            else:
                entry["pose_3d"] = np.asarray(prediction, np.float64).tolist()
                if scale_mm is not None:
                    entry["pose_3d_mm"] = (np.asarray(prediction, np.float64) * scale_mm).tolist()
            report["predictions"].append(entry)
        if not predictor.classification:
            model_inputs += predictor.model_view(chunk)
    return report, model_inputs


# ---------------------------------------------------------------------- output
def format_labels_table(report):
    """The classification report as a plain-text table: per image, its labels and probabilities."""
    threshold = "its saved threshold" if report["threshold"] is None else f"threshold {report['threshold']:.2f}"
    lines = [f"{report['task']}: {report['method'] or 'exported model'}, path {report['path']}, {threshold}"]
    width = max([len("ingredient")] + [len(label["name"]) for p in report["predictions"] for label in p["labels"]])
    for prediction in report["predictions"]:
        lines += ["", prediction["image"]]
        if not prediction["labels"]:
            lines.append("  (nothing above the threshold)")
            continue
        lines.append(f"  {'ingredient':<{width}}  probability")
        lines += [f"  {label['name']:<{width}}  {label['probability']:.3f}" for label in prediction["labels"]]
    return "\n".join(lines)


def format_pose_table(report):
    """The pose report as plain text: per image, each keypoint's x, y, z (model units, and mm when scaled)."""
    with_mm = report["scale_mm"] is not None
    lines = [f"{report['task']}: {report['method'] or 'exported model'}, path {report['path']}; 3D pose, "
             f"{POSE_UNITS}" + (f"; mm at --scale_mm {report['scale_mm']:g}" if with_mm else "")]
    header = f"  {'keypoint':<11}{'x':>8}{'y':>8}{'z':>8}" + (f"{'x mm':>9}{'y mm':>9}{'z mm':>9}" if with_mm else "")
    for prediction in report["predictions"]:
        lines += ["", prediction["image"], header]
        for k, name in enumerate(keypoints.NAMES):
            row = f"  {name:<11}" + "".join(f"{v:>8.3f}" for v in prediction["pose_3d"][k])
            if with_mm:
                row += "".join(f"{v:>9.1f}" for v in prediction["pose_3d_mm"][k])
            lines.append(row)
    return "\n".join(lines)


def format_report(report):
    """The plain-text report of either kind."""
    return format_labels_table(report) if "threshold" in report else format_pose_table(report)


def write_pose_files(report, model_inputs, output_dir):
    """Writes `poses.png` and `poses.json` into `output_dir`; returns `(png path or None, json path)`.

    The PNG shows, per input (the first `MAX_FIGURE_POSES`), the image the
    model saw above its predicted skeleton (in mm when the report has them,
    else model units); no PNG without predictions. The JSON is the report,
    with `figure`, the PNG's path.
    """
    os.makedirs(output_dir, exist_ok=True)
    json_path = os.path.join(output_dir, POSES_JSON)
    png_path = None
    shown = report["predictions"][:MAX_FIGURE_POSES]
    if shown:
        key = "pose_3d_mm" if report.get("scale_mm") is not None else "pose_3d"
        png_path = plot_poses(
            model_inputs[: len(shown)], np.array([p[key] for p in shown]),
            [os.path.basename(p["image"]) for p in shown], os.path.join(output_dir, POSES_PNG),
        )
    report["figure"] = png_path
    with open(json_path, "w") as f:
        json.dump(report, f, indent=1)
    return png_path, json_path


def plot_poses(images, poses, titles, path, cell_size=2.5, dpi=100, elev=-80.0, azim=-90.0):
    """A PNG of predicted 3D skeletons without ground truth: per input, its image above its skeleton.

    Args:
        images: `(N, H, W, 3)` inputs (uint8, or floats in 0..255).
        poses: `(N, 21, 3)` poses in RHD keypoint order, any unit.
        titles: N panel titles (the file names).
        path: the `.png` to write.
        cell_size, dpi, elev, azim: as `cmva_keras.plots.plot_pose_grid`'s;
            `FIGURE_COLUMNS` inputs per row.

    The skeleton and its colours are `plot_pose_grid`'s (`plots._draw_skeleton`);
    each skeleton has equal axes around its own extent. Returns `path`.
    """
    from cmva_keras import plots

    poses = np.asarray(poses, dtype=np.float64)
    columns = min(FIGURE_COLUMNS, len(poses))
    rows = -(-len(poses) // columns)
    figure = plots._new_figure((columns * cell_size, 2 * rows * cell_size), dpi)
    # 0.3 inch at the top for the first row's titles.
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1.0 - 0.3 / (2 * rows * cell_size),
                           wspace=0.05, hspace=0.15)
    for i, (image, pose, title) in enumerate(zip(images, poses, titles)):
        row, column = divmod(i, columns)
        axis = figure.add_subplot(2 * rows, columns, 2 * row * columns + column + 1)
        axis.imshow(plots._as_image(image))
        axis.set_axis_off()
        axis.set_title(title, fontsize="small")
        axis = figure.add_subplot(2 * rows, columns, (2 * row + 1) * columns + column + 1, projection="3d")
        plots._draw_skeleton(axis, pose)
        plots.frame_pose_axis(axis, pose, elev=elev, azim=azim)
    return plots._save(figure, path)


def default_output_dir():
    """`./predictions`: outside the run's folder, which may be shared or reused by scripts/compare.py."""
    return os.path.join(os.getcwd(), "predictions")


def run(image_paths, *, workdir=None, saved_model=None, path=None, task=None, scale_mm=None, hand_side=None,
        output_dir=None, as_json=False, out=None, err=None):
    """`scripts/predict.py`: predicts the files, prints the report, writes the files; returns the exit status.

    Prints the table (with `as_json`, the JSON report instead) to `out`, and
    one line per skipped file to `err`. Hand poses always write `poses.png`
    and `poses.json` into `output_dir` (default `default_output_dir()`); a
    classification report is written to `output_dir/predictions.json` only
    when `output_dir` is given.

    Returns:
        0 when at least one file was predicted (skipped files are reported
        on `err`); 1 when none could be, or when nothing was tried because
        no files were given or the model or an option cannot be used (a
        `PredictionError`: "error: " and its message go to `err`).
    """
    import sys

    out, err = out or sys.stdout, err or sys.stderr
    try:
        if not image_paths:
            raise PredictionError("No image files given: pass one or more image paths after the flags.")
        predictor = load_predictor(workdir=workdir, saved_model=saved_model, path=path, task=task)
        report, model_inputs = predict_files(predictor, image_paths, scale_mm=scale_mm, hand_side=hand_side)
    except PredictionError as error:
        print(f"error: {error}", file=err)
        return 1
    for skipped in report["skipped"]:
        print(f"Skipped {skipped['image']}: {skipped['reason']}.", file=err)
    if not report["predictions"]:
        print(f"Nothing predicted: none of the {len(image_paths)} file(s) could be read as an image. "
              "Pass JPEG, PNG, GIF, BMP or WebP files.", file=err)
        return 1
    written = []
    if not predictor.classification:
        written = [p for p in write_pose_files(report, model_inputs, output_dir or default_output_dir()) if p]
    elif output_dir:
        os.makedirs(output_dir, exist_ok=True)
        written = [os.path.join(output_dir, LABELS_JSON)]
        with open(written[0], "w") as f:
            json.dump(report, f, indent=1)
    if as_json:
        print(json.dumps(report, indent=1), file=out)
        return 0
    print(format_report(report), file=out)
    if len(report["predictions"]) > MAX_FIGURE_POSES and not predictor.classification:
        print(f"\nThe figure shows the first {MAX_FIGURE_POSES} poses; {POSES_JSON} has all of them.", file=out)
    for file_path in written:
        print(f"Wrote {file_path}", file=out)
    return 0
