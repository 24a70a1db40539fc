"""`PCKAUC`: area under the 3D PCK curve as a streaming Keras metric."""

import keras
import numpy as np
from keras import ops

from cmva_keras.keypoints import NUM_KEYPOINTS
from cmva_keras.metrics.keypoint_ops import keypoint_distances, keypoint_weights
from cmva_keras.metrics.pose import threshold_indices


@keras.saving.register_keras_serializable(package="cmva_keras")
class PCKAUC(keras.metrics.Metric):
    """Normalised area under the PCK curve between `low` and `high` (ColorHandPose3D's AUC).

    The threshold grid is `linspace(0, max_threshold, num_thresholds)` (the
    protocol's `linspace(0, 50, 20)` mm by default); the AUC uses the grid
    points in `[low, high]`: `PCKAUC(20, 50)` is the paper's "AUC 20-50 mm"
    (thresholds 21.05..50 mm), `PCKAUC(0, 50)` the full curve.

    State: per keypoint and grid threshold, the (weighted) number of errors
    `<= t`, and per keypoint the (weighted) number of samples, so the metric
    streams exactly: after any batches it equals `pose_scores(...)["auc_20_50"]`
    (or `"auc_0_50"`) on all of them. PCK per keypoint is hits / count; the
    curve averages the keypoints with `count > 0`; the area is the trapezoid
    rule divided by `high' - low'` (the selected grid's span).

    Inputs, `sample_weight` and `scale`: as for `MeanEPE` (a constant scale
    makes this a monitoring value for normalised poses).

    Args:
        low, high: the AUC's threshold range, in the reported unit (mm).
        scale: factor from the poses' unit to mm.
        max_threshold, num_thresholds: the threshold grid.
        num_keypoints: K (21 for RHD and STB).
        name, dtype: as for any `keras.metrics.Metric`.
    """

    def __init__(
        self,
        low=20.0,
        high=50.0,
        scale=1.0,
        max_threshold=50.0,
        num_thresholds=20,
        num_keypoints=NUM_KEYPOINTS,
        name="pck_auc",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        self.low = float(low)
        self.high = float(high)
        self.scale = float(scale)
        self.max_threshold = float(max_threshold)
        self.num_thresholds = int(num_thresholds)
        self.num_keypoints = int(num_keypoints)
        grid = np.linspace(0.0, self.max_threshold, self.num_thresholds)
        selected = threshold_indices(grid, self.low, self.high)
        self._thresholds = grid
        self._first, self._last = int(selected[0]), int(selected[-1])
        self.hits = self.add_variable(
            shape=(self.num_keypoints, self.num_thresholds), initializer="zeros", name="hits"
        )
        self.count = self.add_variable(shape=(self.num_keypoints,), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        distances = keypoint_distances(y_true, y_pred, self.num_keypoints, self.scale, self.dtype)
        weight = keypoint_weights(sample_weight, distances)
        thresholds = ops.convert_to_tensor(self._thresholds.astype("float32"), dtype=self.dtype)
        within = ops.cast(ops.expand_dims(distances, -1) <= thresholds, self.dtype)
        self.hits.assign(self.hits + ops.sum(ops.expand_dims(weight, -1) * within, axis=0))
        self.count.assign(self.count + ops.sum(weight, axis=0))

    def result(self):
        present = ops.cast(self.count > 0, self.dtype)
        pck_per_keypoint = ops.divide_no_nan(self.hits, ops.expand_dims(self.count, -1))
        curve = ops.divide_no_nan(
            ops.sum(ops.expand_dims(present, -1) * pck_per_keypoint, axis=0), ops.sum(present)
        )
        curve = curve[self._first : self._last + 1]
        x = self._thresholds[self._first : self._last + 1]
        # Trapezoid weights of the selected grid, divided by its span (the area of 1).
        weights = np.zeros_like(x)
        weights[:-1] += np.diff(x) / 2.0
        weights[1:] += np.diff(x) / 2.0
        weights /= x[-1] - x[0]
        return ops.sum(curve * ops.convert_to_tensor(weights.astype("float32"), dtype=self.dtype))

    def get_config(self):
        return {
            **super().get_config(),
            "low": self.low,
            "high": self.high,
            "scale": self.scale,
            "max_threshold": self.max_threshold,
            "num_thresholds": self.num_thresholds,
            "num_keypoints": self.num_keypoints,
        }
