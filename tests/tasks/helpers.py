"""Shared checks for the task-model tests: a short three-phase fit and a `.keras` round trip."""

import os

import keras
import numpy as np

import cmva_keras


def dense_parameters(n_in, n_out):
    """Weights and biases of one dense layer."""
    return n_in * n_out + n_out


def mlp_parameters(n_in, hidden_units, n_out):
    """Parameters of dense layers n_in -> hidden_units... -> n_out."""
    sizes = (n_in,) + tuple(hidden_units) + (n_out,)
    return sum(dense_parameters(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def part_parameters(model):
    """Parameters of the five parts (leaves out CMVA's own phase and loss-weight scalars)."""
    return sum(model.part(name).count_params() for name in cmva_keras.PARTS)


def fit_three_phases(model, images, targets):
    """Fits one epoch per phase (1, 2, 3) with two steps each; returns the History."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model.fit(
        images, targets, batch_size=len(images) // 2, epochs=3, verbose=0,
        callbacks=[cmva_keras.PhaseSchedule((1, 1, 1), verbose=0)],
    )


def assert_keras_round_trip(model, images, directory):
    """Saves `model` to a `.keras` file, reloads it, and checks identical predictions."""
    path = os.path.join(directory, "model.keras")
    expected = keras.ops.convert_to_numpy(model(images))
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model)
    assert reloaded.phase == model.phase
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(images)), expected)
    return reloaded
