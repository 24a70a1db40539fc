"""The mapper stage's three terms, shared by `CMVA` and `WithMapper` (docs/architecture.md).

The variational mapper (VE, VD) carries a source Gaussian `N(mu1, sigma1)`
onto the target encoder's latent space through an intermediate Gaussian:

    (mu1, sigma1) -> VE -> N(mu_v, sigma_v) -> z_v -> VD -> N(mu_m, sigma_m) -> z_m -> target decoder

and is trained with three terms (docs/method.md, eq. 6):

- `rec_m`: the task loss of the target decoder's output on `z_m`;
- `kl_m`: the intermediate Gaussian's KL to N(0, I) (eq. 1);
- `w2`: the 2-Wasserstein distance between `N(mu_m, sigma_m)` and the target
  encoder's `N(mu2, sigma2)` (eq. 5).

CMVA's phases 2 and 3 and every "+ Mapper" model compute them here, so the
three methods' mapper stages cannot drift apart.
"""

from cmva_keras import losses


def mapper_terms(model, mapper, source, target, y_flat, decode, *, training, noise,
                 squared_wasserstein=False, wasserstein_eps=1e-8, reconstruct=None):
    """`(terms, intermediate)`: the mapper's `rec_m`, `kl_m`, `w2`, and `(mu_v, log_var_v)`.

    Args:
        model: the `StagedModel` whose `_sample` and `_reconstruction` are used.
        mapper: a `cmva_keras.layers.Mapper` (anything with `encode` and `decode`).
        source: `(mu1, log_var1)`, the source Gaussian, `(batch, d1)` each.
        target: `(mu2, log_var2)`, the target encoder's Gaussian, `(batch, d)` each.
        y_flat: targets `(batch, K)`.
        decode: `z -> logits or values (batch, K)`, the target decoder.
        training: whether the mapper trains in this step.
        noise: dict that may hold fixed draws for "z_v" and "z_m".
        squared_wasserstein, wasserstein_eps: see `losses.wasserstein2_diagonal`.
        reconstruct: optional `z_m -> rec_m`, which replaces
            `model._reconstruction(y_flat, decode(z_m))` (CMVA's log-only form
            of the term, `StagedModel._logged_reconstruction`).
    """
    mu_v, log_var_v = mapper.encode(*source, training=training)
    mu_m, log_var_m = mapper.decode(model._sample(mu_v, log_var_v, noise.get("z_v")), training=training)
    z_m = model._sample(mu_m, log_var_m, noise.get("z_m"))
    terms = {
        "rec_m": model._reconstruction(y_flat, decode(z_m)) if reconstruct is None else reconstruct(z_m),
        "kl_m": losses.kl_to_standard_normal(mu_v, log_var_v),
        "w2": losses.wasserstein2_diagonal(
            mu_m, log_var_m, *target, squared=squared_wasserstein, eps=wasserstein_eps,
        ),
    }
    return terms, (mu_v, log_var_v)
