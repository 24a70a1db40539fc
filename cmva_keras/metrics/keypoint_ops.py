"""Keypoint errors and visibility weights in `keras.ops`, shared by `MeanEPE` and `PCKAUC`."""

from keras import ops


def keypoint_distances(y_true, y_pred, num_keypoints, scale, dtype):
    """Euclidean error per keypoint, `(batch, num_keypoints)`, times `scale`.

    Accepts poses shaped `(batch, num_keypoints, 3)` or flat `(batch, 3 * num_keypoints)`.
    """
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    flat = 3 * num_keypoints
    for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        shape = tuple(tensor.shape)
        if shape[1:] not in ((num_keypoints, 3), (flat,)):
            raise ValueError(
                f"Expected {name} shaped (batch, {num_keypoints}, 3) or (batch, {flat}), got {shape}."
            )
    y_true = ops.reshape(ops.cast(y_true, dtype), (-1, num_keypoints, 3))
    y_pred = ops.reshape(ops.cast(y_pred, dtype), (-1, num_keypoints, 3))
    return scale * ops.sqrt(ops.sum(ops.square(y_true - y_pred), axis=-1))


def keypoint_weights(sample_weight, distances):
    """Weights shaped like `distances` `(batch, K)`: ones, or `sample_weight` broadcast.

    `sample_weight` is `(batch,)` (a weight per sample) or `(batch, K)` (per keypoint).

    A 0/1 `(batch, K)` weight is a visibility mask: 0 leaves the keypoint out,
    as ColorHandPose3D's `EvalUtil.feed(keypoint_vis=...)` does.
    """
    if sample_weight is None:
        return ops.ones_like(distances)
    weight = ops.cast(ops.convert_to_tensor(sample_weight), distances.dtype)
    if len(weight.shape) == 1:
        weight = ops.expand_dims(weight, -1)
    elif len(weight.shape) != 2:
        raise ValueError(
            f"sample_weight must be (batch,) or (batch, keypoints) visibility, got {tuple(weight.shape)}."
        )
    return ops.broadcast_to(weight, ops.shape(distances))
