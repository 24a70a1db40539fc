"""The Keras metrics stream the NumPy protocols over batches, in `evaluate`, on the current backend."""

import keras
import numpy as np
import pytest

from cmva_keras.metrics import (
    PCKAUC,
    IngredientF1,
    IngredientIoU,
    MeanEPE,
    ingredient_scores,
    pose_scores,
)

RNG = np.random.default_rng(11)
K = 9
BATCH_SIZES = (5, 1, 16, 7, 11)  # uneven batches, 40 rows in all


def ingredient_data(n=40):
    y_true = (RNG.random((n, K)) < 0.3).astype("float32")
    y_true[:3] = 0.0  # a few recipes with no ingredient
    y_pred = RNG.random((n, K)).astype("float32")
    y_pred[:2] = 0.1  # two of them also predicted empty
    y_pred[:, -1] = np.minimum(y_pred[:, -1], 0.4)  # never predicted
    y_true[:, -1] = 0.0  # ... and never true: absent from both
    return y_true, y_pred


def pose_data(n=40):
    gt = RNG.normal(scale=40.0, size=(n, 21, 3)).astype("float32")
    pred = gt + RNG.normal(scale=15.0, size=(n, 21, 3)).astype("float32")
    return gt, pred


def stream(metric, y_true, y_pred, sample_weight=None):
    start = 0
    for size in BATCH_SIZES:
        stop = start + size
        weight = None if sample_weight is None else sample_weight[start:stop]
        metric.update_state(y_true[start:stop], y_pred[start:stop], sample_weight=weight)
        start = stop
    assert start == len(y_true)
    return float(keras.ops.convert_to_numpy(metric.result()))


INGREDIENT_CASES = [
    (IngredientF1, {"average": "sample"}, "f1"),
    (IngredientF1, {"average": "micro"}, "f1_micro"),
    (IngredientF1, {"average": "macro", "num_ingredients": K}, "f1_macro"),
    (IngredientIoU, {"average": "sample"}, "iou"),
    (IngredientIoU, {"average": "micro"}, "iou_micro"),
    (IngredientIoU, {"average": "macro", "num_ingredients": K}, "iou_macro"),
]


@pytest.mark.parametrize("cls, kwargs, key", INGREDIENT_CASES)
def test_ingredient_metrics_stream_the_numpy_scores(cls, kwargs, key):
    y_true, y_pred = ingredient_data()
    expected = ingredient_scores(y_true, y_pred)[key]
    metric = cls(**kwargs)
    assert stream(metric, y_true, y_pred) == pytest.approx(expected, rel=1e-5)
    # reset_state starts over: one batch of the first 10 rows scores like NumPy on those rows.
    metric.reset_state()
    metric.update_state(y_true[:10], y_pred[:10])
    got = float(keras.ops.convert_to_numpy(metric.result()))
    assert got == pytest.approx(ingredient_scores(y_true[:10], y_pred[:10])[key], rel=1e-5)


def test_ingredient_metrics_threshold_and_empty_score():
    y_true, y_pred = ingredient_data()
    expected = ingredient_scores(y_true, y_pred, threshold=0.3, empty_score=0.0)
    assert stream(IngredientF1(threshold=0.3, empty_score=0.0), y_true, y_pred) == pytest.approx(
        expected["f1"], rel=1e-5
    )
    assert stream(IngredientIoU(threshold=0.3, empty_score=0.0), y_true, y_pred) == pytest.approx(
        expected["iou"], rel=1e-5
    )


def test_sample_weight_is_a_recipe_weight():
    # Weight 2 on a recipe counts it twice: equal to NumPy on the data with those rows repeated.
    y_true, y_pred = ingredient_data()
    weight = np.where(np.arange(40) % 3 == 0, 2.0, 1.0).astype("float32")
    repeat = weight.astype(int)
    expected = ingredient_scores(np.repeat(y_true, repeat, 0), np.repeat(y_pred, repeat, 0))
    assert stream(IngredientF1(), y_true, y_pred, weight) == pytest.approx(expected["f1"], rel=1e-5)
    assert stream(IngredientIoU(average="micro"), y_true, y_pred, weight) == pytest.approx(
        expected["iou_micro"], rel=1e-5
    )


def test_mean_epe_and_pck_auc_stream_the_numpy_scores():
    gt, pred = pose_data()
    expected = pose_scores(gt, pred)
    assert stream(MeanEPE(), gt, pred) == pytest.approx(expected["epe_mm"], rel=1e-5)
    assert stream(PCKAUC(20, 50), gt, pred) == pytest.approx(expected["auc_20_50"], rel=1e-5)
    assert stream(PCKAUC(0, 50), gt, pred) == pytest.approx(expected["auc_0_50"], rel=1e-5)


def test_pose_metrics_take_flat_normalised_poses_and_a_scale():
    # Poses in units of 25 mm, flat (B, 63): scale=25 reports millimetres.
    gt, pred = pose_data()
    expected = pose_scores(gt, pred)
    flat_gt, flat_pred = gt.reshape(40, 63) / 25.0, pred.reshape(40, 63) / 25.0
    assert stream(MeanEPE(scale=25.0), flat_gt, flat_pred) == pytest.approx(expected["epe_mm"], rel=1e-5)
    assert stream(PCKAUC(scale=25.0), flat_gt, flat_pred) == pytest.approx(expected["auc_20_50"], rel=1e-4)


def test_pose_metrics_visibility_weights_match_eval_util_masking():
    gt, pred = pose_data()
    visible = RNG.random((40, 21)) > 0.3
    visible[:, 5] = False  # a keypoint never visible is skipped
    expected = pose_scores(gt, pred, visible=visible)
    weight = visible.astype("float32")
    assert stream(MeanEPE(), gt, pred, weight) == pytest.approx(expected["epe_mm"], rel=1e-5)
    assert stream(PCKAUC(20, 50), gt, pred, weight) == pytest.approx(expected["auc_20_50"], rel=1e-5)


def test_pck_auc_by_hand():
    # Every keypoint 10 mm off in one sample and 30 mm off in the other: see test_pose_scores,
    # AUC 20-50 = 9.25 / 11 and AUC 0-50 = 11.5 / 19. Offsets along x so the distances are exact.
    gt = np.zeros((2, 21, 3), "float32")
    pred = gt.copy()
    pred[0, :, 0] = 10.0
    pred[1, :, 0] = 30.0
    assert stream_once(PCKAUC(20, 50), gt, pred) == pytest.approx(9.25 / 11, rel=1e-6)
    assert stream_once(PCKAUC(0, 50), gt, pred) == pytest.approx(11.5 / 19, rel=1e-6)
    assert stream_once(MeanEPE(), gt, pred) == pytest.approx(20.0, rel=1e-6)


def stream_once(metric, y_true, y_pred):
    metric.update_state(y_true, y_pred)
    return float(keras.ops.convert_to_numpy(metric.result()))


def identity_model(shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def test_ingredient_metrics_in_compile_and_evaluate(tmp_path):
    y_true, y_pred = ingredient_data()
    model = identity_model((K,))
    model.compile(
        loss="binary_crossentropy",
        metrics=[
            IngredientF1(),
            IngredientIoU(),
            IngredientF1(average="micro", name="f1_micro"),
            IngredientIoU(average="micro", name="iou_micro"),
            IngredientF1(average="macro", num_ingredients=K, name="f1_macro"),
        ],
    )
    # The model passes its input through, so evaluate(x=y_pred, y=y_true) scores y_pred.
    results = model.evaluate(y_pred, y_true, batch_size=16, verbose=0, return_dict=True)
    expected = ingredient_scores(y_true, y_pred)
    for name, key in [
        ("ingredient_f1", "f1"),
        ("ingredient_iou", "iou"),
        ("f1_micro", "f1_micro"),
        ("iou_micro", "iou_micro"),
        ("f1_macro", "f1_macro"),
    ]:
        assert results[name] == pytest.approx(expected[key], rel=1e-5), name
    # Saved and reloaded, the compiled metrics come back (registered classes) and agree.
    path = tmp_path / "ingredients.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    again = reloaded.evaluate(y_pred, y_true, batch_size=16, verbose=0, return_dict=True)
    assert again["f1_macro"] == pytest.approx(expected["f1_macro"], rel=1e-5)


def test_pose_metrics_in_compile_and_evaluate():
    gt, pred = pose_data()
    model = identity_model((21, 3))
    model.compile(
        loss="mse", metrics=[MeanEPE(), PCKAUC(20, 50, name="auc_20_50"), PCKAUC(0, 50, name="auc_0_50")]
    )
    results = model.evaluate(pred, gt, batch_size=16, verbose=0, return_dict=True)
    expected = pose_scores(gt, pred)
    assert results["mean_epe"] == pytest.approx(expected["epe_mm"], rel=1e-5)
    assert results["auc_20_50"] == pytest.approx(expected["auc_20_50"], rel=1e-5)
    assert results["auc_0_50"] == pytest.approx(expected["auc_0_50"], rel=1e-5)


@pytest.mark.parametrize(
    "metric",
    [
        IngredientF1(threshold=0.4, average="macro", num_ingredients=7, empty_score=0.0, name="f"),
        IngredientIoU(average="micro", eps=1e-6),
        MeanEPE(scale=31.5, num_keypoints=21, name="epe"),
        PCKAUC(low=0.0, high=40.0, scale=2.0, max_threshold=40.0, num_thresholds=9, name="auc"),
    ],
)
def test_config_round_trip_through_the_registry(metric):
    serialized = keras.saving.serialize_keras_object(metric)
    assert serialized["registered_name"] == f"cmva_keras>{type(metric).__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()


def test_bad_arguments_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="num_ingredients"):
        IngredientF1(average="macro")
    with pytest.raises(ValueError, match="Unknown average"):
        IngredientIoU(average="weighted")
    with pytest.raises(ValueError, match="Fewer than two thresholds"):
        PCKAUC(low=49.0, high=50.0)
    with pytest.raises(ValueError, match=r"\(batch, 21, 3\) or \(batch, 63\)"):
        MeanEPE().update_state(np.zeros((2, 20, 3)), np.zeros((2, 20, 3)))
    with pytest.raises(ValueError, match="the same"):
        IngredientF1().update_state(np.zeros((2, 3)), np.zeros((2, 4)))


def test_ingredient_metrics_in_cmva_fit_and_evaluate():
    # CMVA hands its deterministic mapper-path probabilities to the compiled metrics.
    from tiny import build_tiny_cmva, tiny_data

    x, y = tiny_data(n=24)
    model = build_tiny_cmva()
    model.compile(metrics=[IngredientF1(), IngredientIoU(average="micro", name="iou_micro")])
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # the metrics also run in the train step
    assert 0.0 <= history.history["ingredient_f1"][0] <= 1.0
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    probabilities = model.predict(x, batch_size=8, verbose=0)
    expected = ingredient_scores(y, np.clip(probabilities, 0.0, 1.0))
    assert logs["ingredient_f1"] == pytest.approx(expected["f1"], rel=1e-5)
    assert logs["iou_micro"] == pytest.approx(expected["iou_micro"], rel=1e-5)
