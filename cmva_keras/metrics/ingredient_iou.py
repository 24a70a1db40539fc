"""`IngredientIoU`: IoU (Jaccard index) of predicted ingredient sets as a streaming Keras metric."""

import keras
from keras import ops

from cmva_keras.metrics.ingredient_set_metric import IngredientSetMetric


@keras.saving.register_keras_serializable(package="cmva_keras")
class IngredientIoU(IngredientSetMetric):
    """IoU of ingredient sets; `average` picks the protocol.

    - "sample" (default, Yummly-28K): mean over recipes of
      `TP / (TP + FP + FN)`, `empty_score` for a recipe with both sets empty.
      Equals `ingredient_scores(...)["iou"]`.
    - "micro" (Recipe1M, inverse-cooking's "jaccard"): counts summed over the
      split, `tp / (tp + fp + fn + eps)`. Equals `ingredient_scores(...)["iou_micro"]`.
    - "macro": the micro formula per ingredient, mean over all K ingredients
      (absent ones score 0). Equals `ingredient_scores(...)["iou_macro"]`.

    Arguments: see `IngredientSetMetric`.
    """

    def __init__(self, threshold=0.5, average="sample", name="ingredient_iou", **kwargs):
        super().__init__(threshold=threshold, average=average, name=name, **kwargs)

    def set_score(self, tp, fp, fn):
        denominator = tp + fp + fn
        score = tp / ops.maximum(denominator, 1.0)
        return ops.where(denominator > 0, score, ops.cast(self.empty_score, score.dtype))

    def count_score(self, tp, fp, fn):
        return tp / (tp + fp + fn + self.eps)
