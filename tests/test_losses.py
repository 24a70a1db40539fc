"""The objective's terms against NumPy references (cmva_keras/losses.py)."""

import keras
import numpy as np
import pytest
import scipy.linalg
from keras import ops

from cmva_keras import losses

RNG = np.random.default_rng(0)


def np_kl(mean, log_var):
    var = np.exp(log_var)
    return np.mean(0.5 * np.sum(var + mean**2 - log_var - 1.0, axis=-1))


def test_kl_matches_numpy_and_is_zero_for_standard_normal():
    mean = RNG.normal(size=(5, 7)).astype("float32")
    log_var = RNG.normal(size=(5, 7)).astype("float32")
    got = float(losses.kl_to_standard_normal(ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)))
    assert got == pytest.approx(np_kl(mean, log_var), rel=1e-5)
    zeros = ops.zeros((3, 4))
    assert float(losses.kl_to_standard_normal(zeros, zeros)) == pytest.approx(0.0, abs=1e-7)


def test_kl_closed_form_single_dimension():
    # KL(N(1, e^0) || N(0, 1)) = 0.5 * (1 + 1 - 0 - 1) = 0.5 per dimension.
    got = float(losses.kl_to_standard_normal(ops.ones((2, 3)), ops.zeros((2, 3))))
    assert got == pytest.approx(1.5, rel=1e-6)


def test_binary_crossentropy_from_logits_matches_probability_form():
    logits = RNG.normal(scale=3.0, size=(4, 6)).astype("float32")
    labels = (RNG.random((4, 6)) > 0.5).astype("float32")
    p = 1.0 / (1.0 + np.exp(-logits.astype("float64")))
    expected = np.mean(-labels * np.log(p) - (1 - labels) * np.log(1 - p))
    got = float(losses.binary_crossentropy_from_logits(ops.convert_to_tensor(labels), ops.convert_to_tensor(logits)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_binary_crossentropy_is_finite_for_extreme_logits():
    # Clipped probabilities would saturate; the logit form stays exact: a logit
    # of -100 on a positive label costs 100 nats.
    logits = ops.convert_to_tensor(np.array([[100.0, -100.0]], "float32"))
    labels = ops.convert_to_tensor(np.array([[1.0, 1.0]], "float32"))
    got = float(losses.binary_crossentropy_from_logits(labels, logits))
    assert got == pytest.approx(50.0, rel=1e-6)


def test_mean_squared_error_matches_numpy():
    a = RNG.normal(size=(3, 63)).astype("float32")
    b = RNG.normal(size=(3, 63)).astype("float32")
    got = float(losses.mean_squared_error(ops.convert_to_tensor(a), ops.convert_to_tensor(b)))
    assert got == pytest.approx(np.mean((a - b) ** 2), rel=1e-5)


def w2_general(mean_a, cov_a, mean_b, cov_b):
    """Eq. (4): the 2-Wasserstein distance between two Gaussians, any covariances."""
    root_a = scipy.linalg.sqrtm(cov_a)
    cross = scipy.linalg.sqrtm(root_a @ cov_b @ root_a)
    squared = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross)
    return np.sqrt(max(np.real(squared), 0.0))


def test_wasserstein_matches_general_formula_with_matrix_square_root():
    mean_a, mean_b = RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    lv_a, lv_b = RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    expected = np.mean(
        [w2_general(mean_a[i], np.diag(np.exp(lv_a[i])), mean_b[i], np.diag(np.exp(lv_b[i]))) for i in range(4)]
    )
    args = [ops.convert_to_tensor(a.astype("float32")) for a in (mean_a, lv_a, mean_b, lv_b)]
    got = float(losses.wasserstein2_diagonal(*args, eps=0.0))
    assert got == pytest.approx(expected, rel=1e-5)
    squared = float(losses.wasserstein2_diagonal(*args, squared=True))
    expected_sq = np.mean(
        [w2_general(mean_a[i], np.diag(np.exp(lv_a[i])), mean_b[i], np.diag(np.exp(lv_b[i]))) ** 2 for i in range(4)]
    )
    assert squared == pytest.approx(expected_sq, rel=1e-4)


def _gradient_at_coincidence(squared):
    """Gradient of W w.r.t. the first mean where both distributions are equal."""
    mean = np.zeros((2, 3), "float32")
    log_var = np.zeros((2, 3), "float32")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        m = tf.Variable(mean)
        with tf.GradientTape() as tape:
            value = losses.wasserstein2_diagonal(m, log_var, mean, log_var, squared=squared)
        return np.asarray(tape.gradient(value, m))
    if backend == "jax":
        import jax

        return np.asarray(
            jax.grad(lambda m: losses.wasserstein2_diagonal(m, log_var, mean, log_var, squared=squared))(mean)
        )
    import torch

    m = torch.tensor(mean, requires_grad=True)
    losses.wasserstein2_diagonal(m, torch.tensor(log_var), torch.tensor(mean), torch.tensor(log_var), squared=squared).backward()
    return m.grad.numpy()


@pytest.mark.parametrize("squared", [False, True])
def test_wasserstein_gradient_is_finite_where_distributions_coincide(squared):
    grad = _gradient_at_coincidence(squared)
    assert np.all(np.isfinite(grad))
    assert np.allclose(grad, 0.0)


def test_wasserstein_is_symmetric_and_zero_on_itself():
    mean = ops.convert_to_tensor(RNG.normal(size=(3, 4)).astype("float32"))
    lv = ops.convert_to_tensor(RNG.normal(size=(3, 4)).astype("float32"))
    mean2 = ops.convert_to_tensor(RNG.normal(size=(3, 4)).astype("float32"))
    assert float(losses.wasserstein2_diagonal(mean, lv, mean, lv, squared=True)) == pytest.approx(0.0, abs=1e-7)
    ab = float(losses.wasserstein2_diagonal(mean, lv, mean2, lv))
    ba = float(losses.wasserstein2_diagonal(mean2, lv, mean, lv))
    assert ab == pytest.approx(ba, rel=1e-6)
