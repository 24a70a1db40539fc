"""`IngredientF1`: F1 of predicted ingredient sets as a streaming Keras metric."""

import keras
from keras import ops

from cmva_keras.metrics.ingredient_set_metric import IngredientSetMetric


@keras.saving.register_keras_serializable(package="cmva_keras")
class IngredientF1(IngredientSetMetric):
    """F1 of ingredient sets; `average` picks the protocol.

    - "sample" (default, Yummly-28K): mean over recipes of
      `2 TP / (2 TP + FP + FN)`, `empty_score` for a recipe with both sets
      empty. Equals `ingredient_scores(...)["f1"]`.
    - "micro" (Recipe1M, inverse-cooking): counts summed over the split,
      `P = tp / (tp + fp + eps)`, `R = tp / (tp + fn + eps)`,
      `F1 = 2 P R / (P + R + eps)`. Equals `ingredient_scores(...)["f1_micro"]`.
    - "macro": the micro formula per ingredient, mean over all K ingredients
      (absent ones score 0). Equals `ingredient_scores(...)["f1_macro"]`.

    Use in `model.compile(metrics=[IngredientF1()])` with sigmoid
    probabilities as predictions. Arguments: see `IngredientSetMetric`.
    """

    def __init__(self, threshold=0.5, average="sample", name="ingredient_f1", **kwargs):
        super().__init__(threshold=threshold, average=average, name=name, **kwargs)

    def set_score(self, tp, fp, fn):
        denominator = 2.0 * tp + fp + fn
        score = 2.0 * tp / ops.maximum(denominator, 1.0)
        return ops.where(denominator > 0, score, ops.cast(self.empty_score, score.dtype))

    def count_score(self, tp, fp, fn):
        precision = tp / (tp + fp + self.eps)
        recall = tp / (tp + fn + self.eps)
        return 2.0 * precision * recall / (precision + recall + self.eps)
