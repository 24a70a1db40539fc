"""Ingredient-set scores in NumPy: the Yummly-28K and Recipe1M (inverse-cooking) protocols.

A prediction is a set of ingredients: the probabilities `y_pred` above
`threshold` (strictly greater, as `keras.metrics.BinaryAccuracy` does; with
0/1 predictions any threshold in [0, 1) gives the same set). Per recipe and
ingredient a prediction is a true positive (TP), false positive (FP) or false
negative (FN). Three averages, each reported as F1 and IoU (Jaccard index):

- per recipe ("sample", the Yummly-28K protocol of the CMVA paper, Table 1):
  `F1 = 2 TP / (2 TP + FP + FN)` and `IoU = TP / (TP + FP + FN)` of each
  recipe's two sets, averaged over recipes. A recipe whose truth and prediction
  are both empty scores `empty_score` (1.0 by default: predicting no
  ingredient for a recipe that has none is correct). With one set empty the
  score is 0.
- micro (the Recipe1M protocol, Table 2): TP, FP, FN summed over the whole
  split, then exactly as facebookresearch/inversecooking's `compute_metrics`
  does: `IoU = tp / (tp + fp + fn + eps)`, `P = tp / (tp + fp + eps)`,
  `R = tp / (tp + fn + eps)`, `F1 = 2 P R / (P + R + eps)`, eps = 1e-10.
- macro (inverse-cooking's `f1_ingredients`): the micro formulas per
  ingredient (column), then the unweighted mean over all K ingredients. As in
  inverse-cooking, an ingredient absent from both truth and prediction on the
  split scores 0 and still counts in the mean (all its counts are 0, so the
  eps terms give 0 / eps = 0); this lowers the macro score when the split
  lacks some ingredients, and keeps the result comparable with that project.
"""

import numpy as np

EPS = 1e-10


def binarize(y_true, y_pred, threshold=0.5):
    """Checks the inputs and returns the two sets as boolean `(N, K)` arrays.

    Args:
        y_true: `(N, K)` multi-hot truth, values 0 or 1.
        y_pred: `(N, K)` probabilities in [0, 1] (or 0/1 predictions).
        threshold: an ingredient is predicted where `y_pred > threshold`.

    Returns:
        `(truth, predicted)`, two boolean `(N, K)` arrays.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"Expected y_true and y_pred of the same shape (N recipes, K ingredients); got "
            f"{y_true.shape} and {y_pred.shape}. Flatten per-recipe labels to one multi-hot row each."
        )
    if y_true.shape[0] == 0:
        raise ValueError("No recipes to score (N = 0): pass at least one row.")
    if not np.all((y_true == 0) | (y_true == 1)):
        raise ValueError("y_true must be multi-hot (only 0 and 1); binarise the labels first.")
    if not np.all(np.isfinite(y_pred)) or y_pred.min() < 0.0 or y_pred.max() > 1.0:
        raise ValueError(
            "y_pred must hold probabilities in [0, 1] (or 0/1 predictions); if these are logits, "
            "apply a sigmoid first."
        )
    if not 0.0 <= float(threshold) < 1.0:
        raise ValueError(f"threshold must lie in [0, 1), got {threshold}.")
    return y_true.astype(bool), y_pred > float(threshold)


def error_counts(truth, predicted, axis=None):
    """TP, FP, FN counts of two boolean arrays, summed over `axis` (all axes by default)."""
    tp = np.sum(truth & predicted, axis=axis, dtype=np.float64)
    fp = np.sum(~truth & predicted, axis=axis, dtype=np.float64)
    fn = np.sum(truth & ~predicted, axis=axis, dtype=np.float64)
    return tp, fp, fn


def set_f1(tp, fp, fn, empty_score=1.0):
    """Per-set F1 `2 TP / (2 TP + FP + FN)`; `empty_score` where both sets are empty."""
    denominator = 2.0 * tp + fp + fn
    return np.where(denominator > 0, 2.0 * tp / np.maximum(denominator, 1e-300), empty_score)


def set_iou(tp, fp, fn, empty_score=1.0):
    """Per-set IoU `TP / (TP + FP + FN)`; `empty_score` where both sets are empty."""
    denominator = tp + fp + fn
    return np.where(denominator > 0, tp / np.maximum(denominator, 1e-300), empty_score)


def count_f1(tp, fp, fn, eps=EPS):
    """inverse-cooking's F1 of summed counts: `2 P R / (P + R + eps)`, P and R with eps."""
    precision = tp / (tp + fp + eps)
    recall = tp / (tp + fn + eps)
    return 2.0 * precision * recall / (precision + recall + eps)


def count_iou(tp, fp, fn, eps=EPS):
    """inverse-cooking's Jaccard of summed counts: `tp / (tp + fp + fn + eps)`."""
    return tp / (tp + fp + fn + eps)


def ingredient_scores(y_true, y_pred, threshold=0.5, *, empty_score=1.0, eps=EPS):
    """F1 and IoU of predicted ingredient sets, per recipe, micro and macro.

    See the module docstring for the formulas and the handling of empty sets.

    Args:
        y_true: `(N, K)` multi-hot truth (0/1).
        y_pred: `(N, K)` probabilities in [0, 1], or 0/1 predictions.
        threshold: an ingredient is predicted where `y_pred > threshold`.
        empty_score: per-recipe score when truth and prediction are both empty.
        eps: the inverse-cooking epsilon of the micro and macro formulas.

    Returns:
        Dict of floats in [0, 1]: `f1` and `iou` (per recipe, averaged over
        recipes), `f1_micro` and `iou_micro` (counts summed over the split),
        `f1_macro` and `iou_macro` (per ingredient, averaged over all K).
    """
    truth, predicted = binarize(y_true, y_pred, threshold)
    per_recipe = error_counts(truth, predicted, axis=1)
    per_ingredient = error_counts(truth, predicted, axis=0)
    total = error_counts(truth, predicted)
    return {
        "f1": float(np.mean(set_f1(*per_recipe, empty_score=empty_score))),
        "iou": float(np.mean(set_iou(*per_recipe, empty_score=empty_score))),
        "f1_micro": float(count_f1(*total, eps=eps)),
        "iou_micro": float(count_iou(*total, eps=eps)),
        "f1_macro": float(np.mean(count_f1(*per_ingredient, eps=eps))),
        "iou_macro": float(np.mean(count_iou(*per_ingredient, eps=eps))),
    }
