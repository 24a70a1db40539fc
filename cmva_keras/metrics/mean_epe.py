"""`MeanEPE`: mean end-point error of 3D keypoints as a streaming Keras metric."""

import keras
from keras import ops

from cmva_keras.keypoints import NUM_KEYPOINTS
from cmva_keras.metrics.keypoint_ops import keypoint_distances, keypoint_weights


@keras.saving.register_keras_serializable(package="cmva_keras")
class MeanEPE(keras.metrics.Metric):
    """Mean over keypoints of each keypoint's mean Euclidean error (ColorHandPose3D's mean EPE).

    State: per keypoint, the (weighted) sum of errors and the (weighted)
    number of samples. Result: `mean_k(sum_k / count_k)` over the keypoints
    with `count_k > 0`, in the poses' unit times `scale`. It streams exactly:
    after any batches it equals `pose_scores(...)["epe_mm"]` on all of them.

    Inputs: `(batch, K, 3)` or `(batch, 3K)` root-relative poses, truth and
    prediction in the same unit. `sample_weight`: `(batch,)`, or a `(batch, K)`
    0/1 visibility mask.

    Scale: CMVA's hand targets are divided by each sample's bone length, so
    the protocol's millimetres need the per-sample ground-truth scale. Inside
    `fit` / `evaluate` only a constant `scale` (e.g. the data set's mean bone
    length in mm) is available, which makes this a monitoring value; report
    final numbers with `pose_scores` on de-normalised predictions.

    Args:
        scale: factor from the poses' unit to the reported unit (mm).
        num_keypoints: K (21 for RHD and STB).
        name, dtype: as for any `keras.metrics.Metric`.
    """

    def __init__(self, scale=1.0, num_keypoints=NUM_KEYPOINTS, name="mean_epe", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.scale = float(scale)
        self.num_keypoints = int(num_keypoints)
        self.error_sum = self.add_variable(shape=(self.num_keypoints,), initializer="zeros", name="error_sum")
        self.count = self.add_variable(shape=(self.num_keypoints,), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        distances = keypoint_distances(y_true, y_pred, self.num_keypoints, self.scale, self.dtype)
        weight = keypoint_weights(sample_weight, distances)
        self.error_sum.assign(self.error_sum + ops.sum(weight * distances, axis=0))
        self.count.assign(self.count + ops.sum(weight, axis=0))

    def result(self):
        present = ops.cast(self.count > 0, self.dtype)
        per_keypoint = ops.divide_no_nan(self.error_sum, self.count)
        return ops.divide_no_nan(ops.sum(present * per_keypoint), ops.sum(present))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "num_keypoints": self.num_keypoints}
