"""A tiny CMVA and matching data for fast tests (imported by tests, not by the package)."""

import keras
import numpy as np

import cmva_keras as cm
from cmva_keras.layers import MLP, GaussianEncoder, Mapper

IMAGE_SHAPE = (12, 12, 3)
NUM_LABELS = 5
LATENT = 6


def build_tiny_cmva(task="classification", seed=1, batch_norm=True, loss_weights=None):
    """E1: a conv layer (+ BatchNorm, so moving statistics are exercised); others dense."""
    layers = [keras.layers.Conv2D(4, 3, strides=2, activation="relu")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.GlobalAveragePooling2D())
    target_shape = (NUM_LABELS,) if task == "classification" else (3, 2)
    target_dim = int(np.prod(target_shape))
    return cm.CMVA(
        source_encoder=GaussianEncoder(LATENT, backbone=keras.Sequential(layers)),
        source_decoder=MLP(target_dim),
        target_encoder=GaussianEncoder(LATENT, hidden_units=(8,)),
        target_decoder=MLP(target_dim),
        mapper=Mapper(LATENT),
        target_shape=target_shape,
        task=task,
        seed=seed,
        loss_weights=loss_weights,
    )


def tiny_data(n=32, task="classification", seed=0):
    """Images whose mean colour carries the labels, so the model can learn something."""
    rng = np.random.default_rng(seed)
    if task == "classification":
        y = (rng.random((n, NUM_LABELS)) > 0.5).astype("float32")
    else:
        y = rng.normal(size=(n, 3, 2)).astype("float32")
    x = rng.random((n,) + IMAGE_SHAPE).astype("float32")
    x[..., 0] += y.reshape(n, -1)[:, :1, None] if task == "classification" else 0.0
    return x, y


def snapshot(model):
    """Every variable of every part (BatchNorm statistics included), as NumPy arrays."""
    return {
        part: [np.array(keras.ops.convert_to_numpy(v.value)) for v in model.part(part).variables]
        for part in cm.PARTS
    }


def same(a, b, part):
    """Whether `part`'s variables hold the same values in snapshots `a` and `b`.

    Snapshots of one part always list the same variables: a different count,
    shape or dtype fails the test here (rather than making `same` False, which
    a `not same(...)` check would pass on).
    """
    u, v = a[part], b[part]
    assert len(u) == len(v), f"{part}: the snapshots hold {len(u)} and {len(v)} variables"
    for i, (x, y) in enumerate(zip(u, v)):
        assert x.shape == y.shape and x.dtype == y.dtype, (
            f"{part}: variable {i} is {x.shape} {x.dtype} in one snapshot, {y.shape} {y.dtype} in the other"
        )
    return all(np.array_equal(x, y) for x, y in zip(u, v))
