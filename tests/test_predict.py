"""Prediction from image files (cmva_keras/prediction.py, scripts/predict.py): outputs and bad inputs.

The workdirs are written here from untrained smoke-sized models (config.json,
vocabulary.json, model.keras as training leaves them), in seconds: what is
checked is that prediction equals `model.predict` on the serving
preprocessing's input, not what a trained model predicts.
"""

import functools
import io
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from cmva_keras import prediction, tasks
from cmva_keras.training import run_files
from cmva_keras.training.config import resolve_config, to_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCABULARY = ["salt", "garlic", "onion", "basil", "tomato", "rice"]


def _write_run(workdir, task_name, target_shape, vocabulary=None, overrides=()):
    """A finished-run folder of `task_name`'s smoke config with an untrained model; returns the model."""
    config = resolve_config(task_name, "smoke", overrides=list(overrides))
    task = tasks.get(task_name)
    input_shape = task.input_shape(config)
    model = task.build_model(config, input_shape, target_shape)
    model.build((None,) + tuple(input_shape))
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, run_files.CONFIG), "w") as f:
        f.write(to_json(config))
    if vocabulary:
        with open(os.path.join(workdir, run_files.VOCABULARY), "w") as f:
            json.dump(vocabulary, f)
    model.save(os.path.join(workdir, run_files.MODEL))
    return model, config


def _image(path, height, width, seed, fmt="PNG"):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, format=fmt)
    return str(path)


@pytest.fixture(scope="module")
def food(tmp_path_factory):
    """`(workdir, images)`: a food run whose threshold splits the first image's probabilities in two."""
    base = tmp_path_factory.mktemp("food")
    workdir = str(base / "run")
    model, config = _write_run(workdir, "food", (len(VOCABULARY),), VOCABULARY)
    # Sizes unlike the smoke config's (36, 54) resize, one JPEG: any size and format is served.
    images = [_image(base / "a.png", 50, 70, 0), _image(base / "b.jpg", 90, 40, 1, "JPEG"),
              _image(base / "c.png", 36, 54, 2)]
    prepare = tasks.get("food").serving_preprocessor(config.data)
    first = np.asarray(model.predict(np.asarray(prepare(np.asarray(Image.open(images[0]))[None])), verbose=0))[0]
    model.set_threshold(float(np.median(first)))
    model.save(os.path.join(workdir, run_files.MODEL))
    return workdir, images


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    base = tmp_path_factory.mktemp("hand")
    workdir = str(base / "run")
    _write_run(workdir, "hand", (21, 3), overrides=["data.hand_side_input=False"])
    images = [_image(base / f"hand{i}.png", size, size + 7 * i, i) for i, size in enumerate((40, 64, 25))]
    return workdir, images


@pytest.fixture(scope="module")
def hand_side(tmp_path_factory):
    """A hand run trained with the side as an input (the paper's protocol), and three crops."""
    base = tmp_path_factory.mktemp("hand_side")
    workdir = str(base / "run")
    _write_run(workdir, "hand", (21, 3), overrides=["data.hand_side_input=True"])
    images = [_image(base / f"hand{i}.png", 40, 40 + 5 * i, 10 + i) for i in range(3)]
    return workdir, images


def _expected_with_side(workdir, images, side):
    """A side-taking model's poses: left crops mirrored before the model, their poses mirrored back."""
    model = _model(workdir)
    batch = _prepared(workdir, images)
    if side == "left":
        batch = batch[:, :, ::-1]
    poses = np.asarray(model.predict(batch, verbose=0))
    if side == "left":
        poses[..., 0] *= -1.0
    return poses


@functools.lru_cache(maxsize=None)
def _model(workdir):
    """The workdir's model, loaded once (no test changes it after its fixture wrote it)."""
    return keras.models.load_model(os.path.join(workdir, run_files.MODEL))


def _prepared(workdir, images):
    """The task's serving preprocessing of each decoded file, stacked (a writable array)."""
    with open(os.path.join(workdir, run_files.CONFIG)) as f:
        config = json.load(f)
    prepare = tasks.get(config["task"]).serving_preprocessor(config["data"])
    return np.concatenate([np.asarray(prepare(prediction.read_image(p)[None])) for p in images])


def _expected(workdir, images, path=None):
    """`model.predict` along `path` on the task's serving preprocessing of each decoded file."""
    model = _model(workdir)
    return np.asarray(model.predict(_prepared(workdir, images), path=path, verbose=0)), model


# ------------------------------------------------------------------------ food
@pytest.mark.parametrize("path", [None, "upper"])
def test_food_labels_are_the_model_probabilities_above_its_threshold_most_probable_first(food, path):
    workdir, images = food
    predictor = prediction.load_predictor(workdir=workdir, path=path)
    report, _ = prediction.predict_files(predictor, images)
    expected, model = _expected(workdir, images, path)
    assert report["path"] == (path or "mapper") and report["threshold"] == pytest.approx(model.threshold)
    assert [p["image"] for p in report["predictions"]] == images and report["skipped"] == []
    for probabilities, entry in zip(expected, report["predictions"]):
        chosen = [i for i in np.argsort(-probabilities, kind="stable") if probabilities[i] > model.threshold]
        assert [label["name"] for label in entry["labels"]] == [VOCABULARY[i] for i in chosen]
        np.testing.assert_allclose([label["probability"] for label in entry["labels"]], probabilities[chosen],
                                   rtol=1e-5)
    # The threshold is the median of the first image's probabilities: half are listed.
    if path is None:
        assert len(report["predictions"][0]["labels"]) == len(VOCABULARY) // 2


def test_mapper_and_upper_paths_differ(food):
    workdir, images = food
    mapper, _ = _expected(workdir, images[:1], "mapper")
    upper, _ = _expected(workdir, images[:1], "upper")
    assert not np.allclose(mapper, upper)


def test_food_table_and_json_output(food, tmp_path, capsys):
    workdir, images = food
    assert prediction.run(images[:1], workdir=workdir) == 0
    table = capsys.readouterr().out
    report, _ = prediction.predict_files(prediction.load_predictor(workdir=workdir), images[:1])
    top = report["predictions"][0]["labels"][0]
    assert "food: CMVA, path mapper, threshold" in table and images[0] in table
    assert f"{top['name']}" in table and f"{top['probability']:.3f}" in table
    assert prediction.run(images[:1], workdir=workdir, as_json=True, output_dir=str(tmp_path)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["predictions"][0]["labels"] == report["predictions"][0]["labels"]
    with open(tmp_path / prediction.LABELS_JSON) as f:
        assert json.load(f) == printed


# ------------------------------------------------------------------------ hand
def test_hand_pose_in_units_and_mm_with_the_figure_and_json(hand, tmp_path, capsys):
    workdir, images = hand
    out = str(tmp_path / "out")
    assert prediction.run(images, workdir=workdir, scale_mm=30.0, hand_side="left", output_dir=out) == 0
    table = capsys.readouterr().out
    with open(os.path.join(out, prediction.POSES_JSON)) as f:
        report = json.load(f)
    expected, _ = _expected(workdir, images)
    poses = np.array([p["pose_3d"] for p in report["predictions"]])
    np.testing.assert_allclose(poses, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([p["pose_3d_mm"] for p in report["predictions"]], poses * 30.0, rtol=1e-6)
    assert poses.shape == (len(images), 21, 3)
    assert report["hand_side"] == "left" and report["scale_mm"] == 30.0 and report["path"] == "mapper"
    assert report["figure"] == os.path.join(out, prediction.POSES_PNG)
    with Image.open(report["figure"]) as figure:
        # One column per input (up to FIGURE_COLUMNS), image above skeleton: 3 x 250 by 2 x 250 pixels.
        assert figure.format == "PNG" and figure.size == (3 * 250, 2 * 250)
    assert "x mm" in table and "thumb_tip" in table and f"Wrote {report['figure']}" in table


def test_hand_without_scale_has_no_mm_and_the_figure_wraps_rows(hand, tmp_path, capsys):
    workdir, images = hand
    out = str(tmp_path / "out")
    many = images * 2  # 6 inputs: two rows of FIGURE_COLUMNS = 4
    assert prediction.run(many, workdir=workdir, path="upper", output_dir=out, as_json=True) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["predictions"]) == 6 and "pose_3d_mm" not in printed["predictions"][0]
    assert printed["scale_mm"] is None and printed["hand_side"] is None and printed["path"] == "upper"
    with Image.open(os.path.join(out, prediction.POSES_PNG)) as figure:
        assert figure.size == (4 * 250, 4 * 250)


# ------------------------------------------------------------------ bad input
def test_one_bad_file_among_good_ones_is_reported_and_skipped(food, tmp_path, capsys):
    workdir, images = food
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    data = open(images[1], "rb").read()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    files = [str(text), images[0], str(truncated), str(tmp_path / "missing.jpg"), str(tmp_path), str(empty), images[2]]
    assert prediction.run(files, workdir=workdir) == 0
    captured = capsys.readouterr()
    assert images[0] in captured.out and images[2] in captured.out and str(text) not in captured.out
    reasons = {
        str(text): "not an image (expected a JPEG, PNG, GIF, BMP or WebP file)",
        str(truncated): "a corrupt or truncated image",
        str(tmp_path / "missing.jpg"): "no such file",
        str(tmp_path): "a folder, not an image file",
        str(empty): "the file is empty",
    }
    for path, reason in reasons.items():
        assert f"Skipped {path}: {reason}" in captured.err
    report, _ = prediction.predict_files(prediction.load_predictor(workdir=workdir), files)
    assert [p["image"] for p in report["predictions"]] == [images[0], images[2]]
    assert [s["image"] for s in report["skipped"]] == list(reasons)


def test_nothing_readable_exits_1(food, tmp_path, capsys):
    workdir, _ = food
    text = tmp_path / "a.txt"
    text.write_text("x")
    assert prediction.run([str(text)], workdir=workdir) == 1
    assert "Nothing predicted: none of the 1 file(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "--workdir DIR .* or --saved_model DIR"),
        ({"workdir": "W", "saved_model": "S"}, "one of the two"),
        ({"workdir": "/no/such/run"}, "Workdir /no/such/run does not exist; pass the --workdir of a finished"),
        ({"saved_model": "/no/such/export"}, "--saved_model /no/such/export does not exist"),
    ],
)
def test_missing_or_ambiguous_model_says_what_to_pass(kwargs, message):
    with pytest.raises(prediction.PredictionError, match=message):
        prediction.load_predictor(**kwargs)


def test_workdir_without_a_finished_model_and_export_folder_without_a_version(tmp_path):
    with pytest.raises(prediction.PredictionError, match="model.keras is missing: .* holds no finished training run"):
        prediction.load_predictor(workdir=str(tmp_path))
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    with pytest.raises(prediction.PredictionError, match=f"holds no saved_model.pb; pass one of its versions, e.g. "
                                                         f"{os.path.join(str(tmp_path), '2')}"):
        prediction.load_predictor(saved_model=str(tmp_path))


def test_unloadable_model_files_name_the_file_and_the_fix(food, tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    for name in (run_files.CONFIG, run_files.VOCABULARY):
        (workdir / name).write_bytes(open(os.path.join(food[0], name), "rb").read())
    (workdir / run_files.MODEL).write_bytes(b"half a zip")
    with pytest.raises(prediction.PredictionError, match=r"model.keras cannot be loaded .* Train the run again"):
        prediction.load_predictor(workdir=str(workdir))
    export = tmp_path / "export"
    export.mkdir()
    (export / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(prediction.PredictionError, match="cannot be loaded .* Export the run again"):
        prediction.load_predictor(saved_model=str(export))


def test_options_of_the_other_task_or_another_path_are_errors(food, hand):
    food_dir, images = food
    with pytest.raises(prediction.PredictionError, match="--path 'lower' is not an inference path of this CMVA model; "
                                                         "choose one of mapper, upper"):
        prediction.load_predictor(workdir=food_dir, path="lower")
    with pytest.raises(prediction.PredictionError, match="--task hand: .* holds a food model"):
        prediction.load_predictor(workdir=food_dir, task="hand")
    predictor = prediction.load_predictor(workdir=food_dir, task="food")
    with pytest.raises(prediction.PredictionError, match="--scale_mm applies to hand-pose models; .* is a food"):
        prediction.predict_files(predictor, images, scale_mm=30.0)
    with pytest.raises(prediction.PredictionError, match="--hand_side applies to hand-pose models"):
        prediction.predict_files(predictor, images, hand_side="left")
    hand_predictor = prediction.load_predictor(workdir=hand[0])
    with pytest.raises(prediction.PredictionError, match="--scale_mm -3.0: .* must be positive"):
        prediction.predict_files(hand_predictor, hand[1], scale_mm=-3.0)


def test_run_prints_the_error_and_exits_1(food, capsys):
    workdir, images = food
    assert prediction.run([], workdir=workdir) == 1
    assert "error: No image files given: pass one or more image paths" in capsys.readouterr().err
    assert prediction.run(images, workdir=workdir, scale_mm=30.0) == 1
    captured = capsys.readouterr()
    assert "error: --scale_mm applies to hand-pose models" in captured.err and captured.out == ""


# ---------------------------------------------------------------- SavedModel
def test_saved_model_gives_the_workdir_predictions_under_any_backend(food, tmp_path):
    """Exported (under TensorFlow, a subprocess elsewhere), then loaded with tf.saved_model under this backend."""
    from cmva_keras.export import export_workdir

    workdir, images = food
    exported = export_workdir(workdir, str(tmp_path / "exported"))
    from_export, _ = prediction.predict_files(prediction.load_predictor(saved_model=exported), images)
    from_workdir, _ = prediction.predict_files(prediction.load_predictor(workdir=workdir), images)
    assert from_export["task"] == "food" and from_export["threshold"] == pytest.approx(from_workdir["threshold"])
    for a, b in zip(from_export["predictions"], from_workdir["predictions"]):
        assert [x["name"] for x in a["labels"]] == [x["name"] for x in b["labels"]]
        np.testing.assert_allclose([x["probability"] for x in a["labels"]], [x["probability"] for x in b["labels"]],
                                   rtol=1e-5)
    with pytest.raises(prediction.PredictionError, match="serves only its method's primary path"):
        prediction.load_predictor(saved_model=exported, path="upper")
    with pytest.raises(prediction.PredictionError, match="--task hand: .* holds a food model"):
        prediction.load_predictor(saved_model=exported, task="hand")
    with pytest.raises(prediction.PredictionError, match="--scale_mm applies to hand-pose models"):
        prediction.predict_files(prediction.load_predictor(saved_model=exported), images, scale_mm=30.0)


def test_hand_saved_model_gives_the_workdir_poses_and_the_figure(hand, tmp_path):
    from cmva_keras.export import export_workdir

    workdir, images = hand
    exported = export_workdir(workdir, str(tmp_path / "exported"))
    assert prediction.run(images, saved_model=exported, scale_mm=25.0, output_dir=str(tmp_path / "out")) == 0
    with open(tmp_path / "out" / prediction.POSES_JSON) as f:
        report = json.load(f)
    expected, _ = _expected(workdir, images)
    assert report["task"] == "hand" and report["source"] == {"saved_model": exported}
    np.testing.assert_allclose([p["pose_3d"] for p in report["predictions"]], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([p["pose_3d_mm"] for p in report["predictions"]], expected * 25.0, rtol=1e-5,
                               atol=1e-5)
    assert os.path.exists(report["figure"])


# --------------------------------------------------------------------- script
@pytest.mark.slow
def test_script_passes_its_flags_and_files_and_skips_a_bad_file(food, tmp_path):
    workdir, images = food
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    script = [sys.executable, os.path.join(ROOT, "scripts", "predict.py"), "--workdir", workdir, "--json",
              "--path", "upper", "--task", "food"]
    result = subprocess.run(script + [images[0], str(text)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Skipped {text}: not an image" in result.stderr
    printed = json.loads(result.stdout)
    assert [p["image"] for p in printed["predictions"]] == [images[0]] and printed["path"] == "upper"


def _png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_grey_and_rgba_files_are_read_as_rgb(tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((5, 7), 100, np.uint8)).save(grey)
    rgba = tmp_path / "rgba.png"
    rgba.write_bytes(_png_bytes(np.full((4, 3, 4), 200, np.uint8)))
    assert prediction.read_image(str(grey)).shape == (5, 7, 3)
    image = prediction.read_image(str(rgba))
    assert image.shape == (4, 3, 3) and image.dtype == np.uint8 and (image == 200).all()


# ------------------------------------------------------------ the hand side
@pytest.mark.parametrize("side", ["left", "right"])
def test_a_side_taking_hand_model_mirrors_left_crops_and_needs_the_side(hand_side, side, tmp_path):
    workdir, images = hand_side
    predictor = prediction.load_predictor(workdir=workdir)
    assert predictor.takes_side
    report, _ = prediction.predict_files(predictor, images, hand_side=side)
    assert report["side_as_input"] is True and report["hand_side"] == side
    expected = _expected_with_side(workdir, images, side)
    np.testing.assert_allclose([p["pose_3d"] for p in report["predictions"]], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(prediction.PredictionError, match="pass --hand_side left or --hand_side right"):
        prediction.predict_files(predictor, images)


def test_a_side_taking_hand_export_takes_the_side_too(hand_side, tmp_path):
    from cmva_keras.export import export_workdir

    workdir, images = hand_side
    exported = export_workdir(workdir, str(tmp_path / "exported"))
    predictor = prediction.load_predictor(saved_model=exported)
    assert predictor.takes_side
    report, _ = prediction.predict_files(predictor, images, hand_side="left")
    np.testing.assert_allclose([p["pose_3d"] for p in report["predictions"]],
                               _expected_with_side(workdir, images, "left"), rtol=1e-5, atol=1e-5)
    with pytest.raises(prediction.PredictionError, match="--hand_side"):
        prediction.predict_files(predictor, images)
