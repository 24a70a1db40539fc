"""The CMVA objective's terms as pure functions on `keras.ops`.

Each function maps a batch to one scalar (the batch mean), so the same code runs
under TensorFlow, JAX and PyTorch. Every formula is written in its docstring;
`tests/test_losses.py` checks each one against a NumPy reference. The numbers
(1), (2), (3), (5) refer to the paper's equations; the project's method notes
state how the project reads them.

Every function computes in at least float32: float16 and bfloat16 inputs (a
mixed-precision model's outputs) are upcast first (`precision.at_least_float32`),
so the terms are float32 under any dtype policy.
"""

from keras import ops

from cmva_keras.precision import at_least_float32


def kl_to_standard_normal(mean, log_var):
    """KL divergence of N(mean, exp(log_var)) from N(0, I), eq. (1).

    `0.5 * sum_j(sigma_j^2 + mu_j^2 - ln sigma_j^2 - 1)`, summed over the latent
    dimensions and averaged over the batch.

    Args:
        mean: `(batch, d)` means.
        log_var: `(batch, d)` log-variances, `ln sigma^2`.

    Returns:
        Scalar, nats per sample.
    """
    mean, log_var = at_least_float32(mean), at_least_float32(log_var)
    per_dim = ops.exp(log_var) + ops.square(mean) - log_var - 1.0
    return ops.mean(0.5 * ops.sum(per_dim, axis=-1))


def _binary_crossentropy_per_label(labels, logits):
    """`max(l, 0) - l * y + log(1 + exp(-|l|))` per label, `(batch, K)`: BCE without clipping a probability."""
    logits = at_least_float32(logits)
    labels = ops.cast(labels, logits.dtype)
    return ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def binary_crossentropy_from_logits(labels, logits):
    """Binary cross-entropy of multi-hot labels, eq. (2), computed from logits.

    Per label `max(l, 0) - l * y + log(1 + exp(-|l|))`, which equals
    `-y log(sigmoid(l)) - (1 - y) log(1 - sigmoid(l))` without ever clipping a
    probability; averaged over the K labels and over the batch.

    Args:
        labels: `(batch, K)` targets in [0, 1].
        logits: `(batch, K)` pre-sigmoid scores.

    Returns:
        Scalar, nats per label.
    """
    return ops.mean(_binary_crossentropy_per_label(labels, logits))


def mean_squared_error(targets, predictions):
    """Mean squared error, eq. (3): `1/K sum_j (y_j - y_hat_j)^2`, batch mean.

    Args:
        targets: `(batch, K)` regression targets.
        predictions: `(batch, K)` predictions.

    Returns:
        Scalar.
    """
    predictions = at_least_float32(predictions)
    targets = ops.cast(targets, predictions.dtype)
    return ops.mean(ops.square(targets - predictions))


def wasserstein2_diagonal(mean_a, log_var_a, mean_b, log_var_b, *, squared=False, eps=1e-8):
    """2-Wasserstein distance between diagonal Gaussians, eq. (5).

    `W = sqrt(||mu_a - mu_b||^2 + ||sigma_a - sigma_b||^2 + eps)` per sample,
    with `sigma = exp(0.5 * log_var)`, averaged over the batch. For diagonal
    covariances this equals the general formula of eq. (4). The `eps` keeps the
    gradient finite where the two distributions coincide (the square root's
    derivative is infinite at 0); `squared=True` returns `W^2` (no root, no eps),
    whose gradient is smooth everywhere.

    Args:
        mean_a, log_var_a: `(batch, d)` first distribution (the mapper's).
        mean_b, log_var_b: `(batch, d)` second distribution (E2's).
        squared: return the squared distance.
        eps: added under the square root.

    Returns:
        Scalar.
    """
    mean_a, log_var_a, mean_b, log_var_b = (at_least_float32(t) for t in (mean_a, log_var_a, mean_b, log_var_b))
    sigma_a = ops.exp(0.5 * log_var_a)
    sigma_b = ops.exp(0.5 * log_var_b)
    squared_distance = ops.sum(ops.square(mean_a - mean_b), axis=-1) + ops.sum(
        ops.square(sigma_a - sigma_b), axis=-1
    )
    if squared:
        return ops.mean(squared_distance)
    return ops.mean(ops.sqrt(squared_distance + eps))


# Summed over each sample's dimensions (CADA-VAE's scale convention; `CADAVAE`).
def l1_sum(targets, predictions):
    """L1 distance summed over each sample's dimensions, batch mean: `mean_n sum_j |y_nj - y_hat_nj|`.

    CADA-VAE's (cross-)reconstruction of feature vectors (Schonfeld et al.,
    2019; the official code sums `|y - y_hat|` over dimensions and the batch;
    here the batch is averaged).

    Args:
        targets: `(batch, ...)` values.
        predictions: same shape.

    Returns:
        Scalar.
    """
    predictions = at_least_float32(predictions)
    targets = ops.cast(targets, predictions.dtype)
    difference = ops.reshape(ops.abs(targets - predictions), (ops.shape(predictions)[0], -1))
    return ops.mean(ops.sum(difference, axis=-1))


def binary_crossentropy_from_logits_sum(labels, logits):
    """Binary cross-entropy from logits summed over the K labels, batch mean.

    `mean_n sum_j [max(l, 0) - l * y + log(1 + exp(-|l|))]`: K times
    `binary_crossentropy_from_logits`, the per-sample analogue of a
    cross-entropy summed over classes.

    Args:
        labels: `(batch, K)` targets in [0, 1].
        logits: `(batch, K)` pre-sigmoid scores.

    Returns:
        Scalar, nats per sample.
    """
    return ops.mean(ops.sum(_binary_crossentropy_per_label(labels, logits), axis=-1))


def squared_error_sum(targets, predictions):
    """Squared error summed over the K values, batch mean: `mean_n sum_j (y_nj - y_hat_nj)^2`.

    K times `mean_squared_error`.

    Args:
        targets: `(batch, K)` regression targets.
        predictions: `(batch, K)` predictions.

    Returns:
        Scalar.
    """
    predictions = at_least_float32(predictions)
    targets = ops.cast(targets, predictions.dtype)
    return ops.mean(ops.sum(ops.square(targets - predictions), axis=-1))
