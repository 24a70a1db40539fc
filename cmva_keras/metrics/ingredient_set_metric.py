"""`IngredientSetMetric`: streaming TP/FP/FN state shared by `IngredientF1` and `IngredientIoU`."""

import keras
from keras import ops

from cmva_keras.metrics.ingredients import EPS

AVERAGES = ("sample", "micro", "macro")


class IngredientSetMetric(keras.metrics.Metric):
    """Base of the ingredient-set metrics; subclasses give the two score formulas.

    The state lives in metric variables and is updated with `keras.ops` only,
    so the metric runs inside `fit` / `evaluate` on TensorFlow, JAX and PyTorch
    and streams over batches with the same result as
    `cmva_keras.metrics.ingredient_scores` on the whole split:

    - `average="sample"`: the sum of per-recipe scores and the number of
      recipes (two scalars).
    - `average="micro"`: TP, FP, FN summed over recipes and ingredients.
    - `average="macro"`: TP, FP, FN per ingredient, `(num_ingredients,)` each.

    Inputs: `y_true` multi-hot `(batch, K)` (binarised at 0.5), `y_pred`
    probabilities `(batch, K)`; an ingredient is predicted where
    `y_pred > threshold`. `sample_weight` `(batch,)` weights recipes (a
    weighted mean for "sample", weighted counts otherwise).

    Counts are float32 variables: exact up to 2**24 (16.7 million) per count.

    Args:
        threshold: decision threshold on the probabilities, in [0, 1).
        average: "sample" (per recipe, Yummly-28K), "micro" (Recipe1M,
            inverse-cooking) or "macro" (per ingredient).
        num_ingredients: K; required for "macro" (its state is per ingredient).
        empty_score: per-recipe score when truth and prediction are both empty.
        eps: the inverse-cooking epsilon of the micro and macro formulas.
        name, dtype: as for any `keras.metrics.Metric`.
    """

    def __init__(
        self,
        threshold=0.5,
        average="sample",
        num_ingredients=None,
        empty_score=1.0,
        eps=EPS,
        name=None,
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        if average not in AVERAGES:
            raise ValueError(f"Unknown average {average!r}: choose one of {AVERAGES}.")
        if not 0.0 <= float(threshold) < 1.0:
            raise ValueError(f"threshold must lie in [0, 1), got {threshold}.")
        if average == "macro" and not num_ingredients:
            raise ValueError(
                'average="macro" keeps counts per ingredient: pass num_ingredients=K (the label count).'
            )
        self.threshold = float(threshold)
        self.average = average
        self.num_ingredients = None if num_ingredients is None else int(num_ingredients)
        self.empty_score = float(empty_score)
        self.eps = float(eps)
        if average == "sample":
            self.score_sum = self.add_variable(shape=(), initializer="zeros", name="score_sum")
            self.weight_sum = self.add_variable(shape=(), initializer="zeros", name="weight_sum")
        else:
            shape = () if average == "micro" else (self.num_ingredients,)
            self.tp = self.add_variable(shape=shape, initializer="zeros", name="tp")
            self.fp = self.add_variable(shape=shape, initializer="zeros", name="fp")
            self.fn = self.add_variable(shape=shape, initializer="zeros", name="fn")

    # Subclasses: the score of one recipe's sets, and of summed counts.
    def set_score(self, tp, fp, fn):
        raise NotImplementedError

    def count_score(self, tp, fp, fn):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 2 or tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{self.name} expects y_true and y_pred shaped (batch, K ingredients), the same; "
                f"got {tuple(y_true.shape)} and {tuple(y_pred.shape)}."
            )
        if self.average == "macro" and y_pred.shape[-1] not in (None, self.num_ingredients):
            raise ValueError(
                f"{self.name} was built for {self.num_ingredients} ingredients, got {y_pred.shape[-1]}."
            )
        truth = ops.cast(ops.greater(ops.cast(y_true, self.dtype), 0.5), self.dtype)
        predicted = ops.cast(ops.greater(ops.cast(y_pred, self.dtype), self.threshold), self.dtype)
        tp = truth * predicted
        fp = (1.0 - truth) * predicted
        fn = truth * (1.0 - predicted)
        if sample_weight is None:
            weight = ops.ones_like(predicted[:, 0])
        else:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))

        if self.average == "sample":
            scores = self.set_score(ops.sum(tp, axis=1), ops.sum(fp, axis=1), ops.sum(fn, axis=1))
            self.score_sum.assign(self.score_sum + ops.sum(weight * scores))
            self.weight_sum.assign(self.weight_sum + ops.sum(weight))
            return
        axis = None if self.average == "micro" else 0
        weight = ops.expand_dims(weight, -1)
        self.tp.assign(self.tp + ops.sum(weight * tp, axis=axis))
        self.fp.assign(self.fp + ops.sum(weight * fp, axis=axis))
        self.fn.assign(self.fn + ops.sum(weight * fn, axis=axis))

    def result(self):
        if self.average == "sample":
            return ops.divide_no_nan(self.score_sum, self.weight_sum)
        score = self.count_score(self.tp, self.fp, self.fn)
        return score if self.average == "micro" else ops.mean(score)

    def get_config(self):
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "average": self.average,
            "num_ingredients": self.num_ingredients,
            "empty_score": self.empty_score,
            "eps": self.eps,
        }
