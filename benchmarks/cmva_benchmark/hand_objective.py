"""CMVA's objective written once against a minimal array namespace, for the hand-written loops.

The hand-written TensorFlow, JAX and PyTorch loops each pass a namespace `F`
of seven framework-native functions (`dense`, `relu`, `exp`, `sqrt`, `mean`,
`sum_last`, `concat_last`); nothing here imports Keras, so the loops measure
the framework alone. The formulas are the ones of `cmva_keras.losses` and
`CMVA.compute_objective` (regression task, relu MLPs, `W` with `eps`):

- `z = mu + exp(0.5 * log_var) * eps` (reparameterisation),
- `rec = mean((y - y_hat)^2)`, `kl = mean(0.5 * sum(exp(lv) + mu^2 - lv - 1))`,
- `w2 = mean(sqrt(||mu_m - mu_2||^2 + ||sigma_m - sigma_2||^2 + eps))`,
- `loss = sum_k weight_k * term_k` over the seven terms.

The benchmark checks that this equals `CMVA.compute_objective` on the same
weights, batch and noise before it times anything.
"""

TERMS = ("rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2")


def gaussian_mlp(F, part, x):
    """Relu hidden layers then two linear heads: `(batch, in) -> ((batch, d), (batch, d))`."""
    for kernel, bias in part["hidden"]:
        x = F.relu(F.dense(x, kernel, bias))
    return F.dense(x, *part["mean"]), F.dense(x, *part["log_var"])


def mlp(F, part, x):
    """Relu hidden layers then a linear output layer: `(batch, in) -> (batch, out)`."""
    for kernel, bias in part["hidden"]:
        x = F.relu(F.dense(x, kernel, bias))
    return F.dense(x, *part["output"])


def sample(F, mean, log_var, noise):
    """`mean + exp(0.5 * log_var) * noise`, all `(batch, d)`."""
    return mean + F.exp(0.5 * log_var) * noise


def kl_to_standard_normal(F, mean, log_var):
    """`mean_batch(0.5 * sum_j(exp(lv) + mu^2 - lv - 1))`, a scalar."""
    return F.mean(0.5 * F.sum_last(F.exp(log_var) + mean * mean - log_var - 1.0))


def mean_squared_error(F, targets, predictions):
    """`mean((targets - predictions)^2)` over batch and values, a scalar."""
    diff = targets - predictions
    return F.mean(diff * diff)


def wasserstein2(F, mean_a, log_var_a, mean_b, log_var_b, eps):
    """`mean_batch(sqrt(||mu_a - mu_b||^2 + ||sigma_a - sigma_b||^2 + eps))`, a scalar."""
    d_mean = mean_a - mean_b
    d_sigma = F.exp(0.5 * log_var_a) - F.exp(0.5 * log_var_b)
    return F.mean(F.sqrt(F.sum_last(d_mean * d_mean) + F.sum_last(d_sigma * d_sigma) + eps))


def objective(F, params, x, y, noise, weights, wasserstein_eps=1e-8):
    """The seven terms and their weighted sum.

    Args:
        F: the framework namespace (see the module docstring).
        params: nested `(kernel, bias)` pairs laid out as
            `cmva_benchmark.model.extract_params` returns them, as framework tensors.
        x: `(batch, input_dim)` source batch; y: `(batch, target_dim)` targets.
        noise: `{"z1", "z2", "z_v", "z_m"}` -> `(batch, latent_dim)` standard-normal draws.
        weights: `{term: float}`, zero for the terms the phase does not optimise.
        wasserstein_eps: added under the square root of `w2`.

    Returns:
        `{"loss": scalar, term: scalar, ...}`.
    """
    # Upper branch: x -> E1 -> z1 -> D1.
    mu1, log_var1 = gaussian_mlp(F, params["source_encoder"], x)
    out_1 = mlp(F, params["source_decoder"], sample(F, mu1, log_var1, noise["z1"]))
    # Lower branch: y -> E2 -> z2 -> D2.
    mu2, log_var2 = gaussian_mlp(F, params["target_encoder"], y)
    out_2 = mlp(F, params["target_decoder"], sample(F, mu2, log_var2, noise["z2"]))
    # Mapper: [mu1, sigma1] -> VE -> z_v -> VD -> z_m -> D2.
    mapper = params["mapper"]
    mu_v, log_var_v = gaussian_mlp(F, mapper["encoder"], F.concat_last(mu1, F.exp(0.5 * log_var1)))
    mu_m, log_var_m = gaussian_mlp(F, mapper["decoder"], sample(F, mu_v, log_var_v, noise["z_v"]))
    out_m = mlp(F, params["target_decoder"], sample(F, mu_m, log_var_m, noise["z_m"]))
    terms = {
        "rec_1": mean_squared_error(F, y, out_1),
        "kl_1": kl_to_standard_normal(F, mu1, log_var1),
        "rec_2": mean_squared_error(F, y, out_2),
        "kl_2": kl_to_standard_normal(F, mu2, log_var2),
        "rec_m": mean_squared_error(F, y, out_m),
        "kl_m": kl_to_standard_normal(F, mu_v, log_var_v),
        "w2": wasserstein2(F, mu_m, log_var_m, mu2, log_var2, wasserstein_eps),
    }
    total = 0.0
    for name in TERMS:
        if weights[name]:
            total = total + weights[name] * terms[name]
    return {"loss": total, **terms}

