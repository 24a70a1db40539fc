"""`ingredient_scores` on cases worked out by hand, and against inverse-cooking's formulas."""

import numpy as np
import pytest

from cmva_keras.metrics import ingredient_scores

# Four recipes, five ingredients, threshold 0.5 (an ingredient is predicted where p > 0.5).
Y_TRUE = np.array(
    [
        [1, 1, 0, 0, 0],  # r0: truth {0, 1}
        [0, 1, 1, 1, 0],  # r1: truth {1, 2, 3}
        [0, 0, 0, 0, 0],  # r2: truth {}
        [0, 0, 0, 0, 0],  # r3: truth {}
    ],
    dtype="float32",
)
Y_PRED = np.array(
    [
        [0.9, 0.4, 0.6, 0.1, 0.0],  # r0: predicted {0, 2}: TP 1 (0), FP 1 (2), FN 1 (1)
        [0.2, 0.8, 0.7, 0.51, 0.3],  # r1: predicted {1, 2, 3}: TP 3, FP 0, FN 0
        [0.5, 0.1, 0.0, 0.0, 0.0],  # r2: predicted {} (0.5 is not > 0.5): both sets empty
        [0.0, 0.0, 0.0, 0.0, 0.9],  # r3: predicted {4}: TP 0, FP 1, FN 0
    ],
    dtype="float32",
)


def test_per_recipe_scores_by_hand():
    # F1 = 2TP / (2TP + FP + FN): r0 2/4 = 0.5, r1 6/6 = 1, r2 empty -> 1, r3 0/1 = 0.
    # mean = (0.5 + 1 + 1 + 0) / 4 = 0.625.
    # IoU = TP / (TP + FP + FN): r0 1/3, r1 1, r2 1, r3 0; mean = (7/3) / 4 = 7/12.
    scores = ingredient_scores(Y_TRUE, Y_PRED)
    assert scores["f1"] == pytest.approx(0.625, abs=1e-12)
    assert scores["iou"] == pytest.approx(7 / 12, abs=1e-12)


def test_empty_recipe_score_is_configurable():
    # With empty_score=0, r2 scores 0: F1 (0.5 + 1 + 0 + 0) / 4 = 0.375, IoU (1/3 + 1) / 4 = 1/3.
    scores = ingredient_scores(Y_TRUE, Y_PRED, empty_score=0.0)
    assert scores["f1"] == pytest.approx(0.375, abs=1e-12)
    assert scores["iou"] == pytest.approx(1 / 3, abs=1e-12)


def test_micro_scores_by_hand():
    # Summed: TP = 1 + 3 = 4, FP = 1 + 1 = 2, FN = 1.
    # P = 4/6, R = 4/5, F1 = 2 (2/3)(4/5) / (2/3 + 4/5) = (16/15) / (22/15) = 8/11.
    # IoU = 4 / (4 + 2 + 1) = 4/7. The eps = 1e-10 terms move these by ~1e-10.
    scores = ingredient_scores(Y_TRUE, Y_PRED)
    assert scores["f1_micro"] == pytest.approx(8 / 11, rel=1e-8)
    assert scores["iou_micro"] == pytest.approx(4 / 7, rel=1e-8)


def test_macro_scores_by_hand():
    # Per ingredient (column): TP, FP, FN -> F1, IoU
    #   0: truth r0, predicted r0            -> 1, 0, 0 -> 1,   1
    #   1: truth r0 r1, predicted r1         -> 1, 0, 1 -> 2/3, 1/2
    #   2: truth r1, predicted r0 r1         -> 1, 1, 0 -> 2/3, 1/2
    #   3: truth r1, predicted r1 (0.51)     -> 1, 0, 0 -> 1,   1
    #   4: truth none, predicted r3          -> 0, 1, 0 -> 0,   0
    # F1 macro = (1 + 2/3 + 2/3 + 1 + 0) / 5 = 2/3; IoU macro = (1 + .5 + .5 + 1 + 0) / 5 = 0.6.
    scores = ingredient_scores(Y_TRUE, Y_PRED)
    assert scores["f1_macro"] == pytest.approx(2 / 3, rel=1e-8)
    assert scores["iou_macro"] == pytest.approx(0.6, rel=1e-8)


def test_macro_counts_ingredients_absent_from_truth_and_prediction_as_zero():
    # A sixth ingredient nobody has or predicts: inverse-cooking gives it F1 0 / eps = 0 and
    # keeps it in the mean, so F1 macro = (10/3) / 6 = 5/9 and IoU macro = 3 / 6 = 0.5.
    y_true = np.concatenate([Y_TRUE, np.zeros((4, 1), "float32")], axis=1)
    y_pred = np.concatenate([Y_PRED, np.zeros((4, 1), "float32")], axis=1)
    scores = ingredient_scores(y_true, y_pred)
    assert scores["f1_macro"] == pytest.approx(5 / 9, rel=1e-8)
    assert scores["iou_macro"] == pytest.approx(0.5, rel=1e-8)
    # The other averages do not change.
    base = ingredient_scores(Y_TRUE, Y_PRED)
    for key in ("f1", "iou", "f1_micro", "iou_micro"):
        assert scores[key] == pytest.approx(base[key], rel=1e-12)


def inverse_cooking_reference(y_true, y_pred_binary, eps=1e-10):
    """facebookresearch/inversecooking src/utils/metrics.py: update_error_types + compute_metrics.

    Transcribed from the reference (batch by batch accumulation, then the f1 / jaccard / f1_ingredients
    formulas), in NumPy instead of torch.
    """
    error_types = {"tp_i": 0, "fp_i": 0, "fn_i": 0, "tp_all": 0, "fp_all": 0, "fn_all": 0}
    for start in range(0, len(y_true), 7):  # batches of 7, as a data loader would feed them
        t, p = y_true[start : start + 7], y_pred_binary[start : start + 7]
        error_types["tp_i"] += (p * t).sum(0)
        error_types["fp_i"] += (p * (1 - t)).sum(0)
        error_types["fn_i"] += ((1 - p) * t).sum(0)
        error_types["tp_all"] += (p * t).sum()
        error_types["fp_all"] += (p * (1 - t)).sum()
        error_types["fn_all"] += ((1 - p) * t).sum()
    e = error_types
    jaccard = e["tp_all"] / (e["tp_all"] + e["fp_all"] + e["fn_all"] + eps)
    pre = e["tp_i"] / (e["tp_i"] + e["fp_i"] + eps)
    rec = e["tp_i"] / (e["tp_i"] + e["fn_i"] + eps)
    f1_ingredients = np.average(2 * (pre * rec) / (pre + rec + eps))
    pre = e["tp_all"] / (e["tp_all"] + e["fp_all"] + eps)
    rec = e["tp_all"] / (e["tp_all"] + e["fn_all"] + eps)
    f1 = 2 * (pre * rec) / (pre + rec + eps)
    return f1, jaccard, f1_ingredients


def test_micro_and_macro_match_inverse_cooking_on_random_sets():
    rng = np.random.default_rng(3)
    y_true = (rng.random((50, 12)) < 0.2).astype("float64")
    y_true[:, 11] = 0  # one ingredient absent from the truth
    y_pred = rng.random((50, 12))
    y_pred[:, 11] = 0.0  # ... and from the prediction
    f1, jaccard, f1_ingredients = inverse_cooking_reference(y_true, (y_pred > 0.5).astype("float64"))
    scores = ingredient_scores(y_true, y_pred)
    assert scores["f1_micro"] == pytest.approx(f1, rel=1e-12)
    assert scores["iou_micro"] == pytest.approx(jaccard, rel=1e-12)
    assert scores["f1_macro"] == pytest.approx(f1_ingredients, rel=1e-12)


def test_per_recipe_scores_match_set_arithmetic_on_random_sets():
    rng = np.random.default_rng(4)
    y_true = (rng.random((40, 9)) < 0.3).astype("float32")
    y_pred = rng.random((40, 9)).astype("float32")
    f1s, ious = [], []
    for t_row, p_row in zip(y_true, y_pred):
        truth = {i for i, v in enumerate(t_row) if v == 1}
        pred = {i for i, v in enumerate(p_row) if v > 0.5}
        if not truth and not pred:
            f1s.append(1.0)
            ious.append(1.0)
            continue
        f1s.append(2 * len(truth & pred) / (len(truth) + len(pred)))
        ious.append(len(truth & pred) / len(truth | pred))
    scores = ingredient_scores(y_true, y_pred)
    assert scores["f1"] == pytest.approx(np.mean(f1s), rel=1e-12)
    assert scores["iou"] == pytest.approx(np.mean(ious), rel=1e-12)


def test_perfect_prediction_scores_one_and_threshold_moves_the_sets():
    y_true = np.array([[1, 0, 1], [0, 1, 0]], "float32")
    scores = ingredient_scores(y_true, y_true)
    for key in ("f1", "iou", "f1_micro", "iou_micro", "f1_macro", "iou_macro"):
        assert scores[key] == pytest.approx(1.0, rel=1e-8)
    # p = 0.3 everywhere: nothing predicted at threshold 0.5 (F1 0); everything at 0.2:
    # r0 TP 2, FP 1 -> 2*2 / (2*2 + 1) = 0.8; r1 TP 1, FP 2 -> 2 / (2 + 2) = 0.5.
    probs = np.full((2, 3), 0.3, "float32")
    assert ingredient_scores(y_true, probs)["f1"] == 0.0
    assert ingredient_scores(y_true, probs, threshold=0.2)["f1"] == pytest.approx((0.8 + 0.5) / 2)


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        (np.ones((2, 3)), np.ones((2, 4)), "same shape"),
        (np.ones(3), np.ones(3), "same shape"),
        (np.full((2, 3), 0.5), np.ones((2, 3)), "multi-hot"),
        (np.ones((2, 3)), np.full((2, 3), 2.0), "logits"),
        (np.ones((0, 3)), np.ones((0, 3)), "N = 0"),
    ],
)
def test_bad_inputs_raise_clear_errors(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        ingredient_scores(y_true, y_pred)
