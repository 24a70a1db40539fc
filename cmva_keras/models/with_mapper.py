"""`WithMapper`: a trained model "+ Mapper" (the paper's Table 1 baselines' variants)."""

import keras

from cmva_keras.models.mapper_terms import mapper_terms
from cmva_keras.models.staged_model import StagedModel
from cmva_keras.phases import Phase

TERMS = ("rec_m", "kl_m", "w2")


@keras.saving.register_keras_serializable(package="cmva_keras")
class WithMapper(StagedModel):
    """A trained model, frozen bit-exactly, with a variational mapper trained on top.

    The paper's "+ Mapper" variants (section 4.1.2): the baseline is trained,
    its weights are frozen, and only the mapper (VE, VD) is trained, from the
    baseline's image Gaussian onto its target encoder's latent space, with
    CMVA's phase-2 terms `rec_m`, `kl_m`, `w2` (computed by the same
    `mapper_terms` as CMVA's). Prediction goes image -> the wrapped model's
    image encoder -> mapper -> its target decoder; path "base" is the wrapped
    model's own primary prediction, the variant "without mapper".

    The wrapped model provides `source_distribution(x)`,
    `target_distribution(y)` and `decode_target(z)` (`CMVAE`, `CADAVAE` and
    `CMVA` do) and is never updated: it is not in the one phase's trained
    parts, and it always runs in inference mode.

    Args:
        base_model: the trained model to wrap.
        mapper: a `cmva_keras.layers.Mapper` whose `latent_dim` is the wrapped
            model's target latent size.
        loss_weights: base weights of `rec_m`, `kl_m`, `w2`.
        squared_wasserstein, wasserstein_eps: as for `CMVA`.
        seed, phase, threshold: as for every `StagedModel` (the threshold
            defaults to the wrapped model's).
    """

    PARTS = ("base_model", "mapper")
    TERMS = TERMS
    PHASES = {1: Phase(1, "mapper (VE, VD) trained; the wrapped model frozen", ("mapper",), TERMS)}
    INFERENCE_PATHS = ("mapper", "base")
    DEFAULT_LOSS_WEIGHTS = {"rec_m": 1.0, "kl_m": 1e-3, "w2": 1e-2}
    NOISE_KEYS = ("z_v", "z_m")

    def __init__(self, base_model, mapper, loss_weights=None, squared_wasserstein=False, wasserstein_eps=1e-8,
                 seed=None, phase=1, threshold=None, target_shape=None, task=None, **kwargs):
        missing = [m for m in ("source_distribution", "target_distribution", "decode_target")
                   if not hasattr(base_model, m)]
        if missing:
            raise TypeError(
                f"WithMapper wraps a model with source_distribution, target_distribution and decode_target; "
                f"{type(base_model).__name__} lacks {missing}. Wrap a CMVAE, CADAVAE or CMVA."
            )
        if threshold is None:
            threshold = base_model.threshold if base_model.task == "classification" else 0.5
        super().__init__(
            target_shape=base_model.target_shape, task=base_model.task, loss_weights=loss_weights, seed=seed,
            phase=phase, threshold=threshold, **kwargs,
        )
        self.base_model = base_model
        self.mapper = mapper
        self.squared_wasserstein = bool(squared_wasserstein)
        self.wasserstein_eps = float(wasserstein_eps)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._source_input_shape = input_shape[1:]
        if not self.base_model.built:
            self.base_model.build(input_shape)
        mean, log_var = self.base_model.source_distribution(keras.KerasTensor(input_shape))
        self.mapper(mean, log_var)
        self.built = True

    def compute_objective(self, x, y, training=False, noise=None, log_flag=True):
        """`rec_m`, `kl_m`, `w2` of the mapper on the frozen model's Gaussians; see `mapper_terms`."""
        self._check_inputs(x, y)
        noise = self._check_noise(noise)
        y_flat = self._flat_targets(y)
        frozen = lambda tensors: tuple(keras.ops.stop_gradient(t) for t in tensors)  # noqa: E731
        source = frozen(self.base_model.source_distribution(x))
        target = frozen(self.base_model.target_distribution(y))
        terms, (mu_v, _) = mapper_terms(
            self, self.mapper, source, target, y_flat, self.base_model.decode_target,
            training=training, noise=noise,
            squared_wasserstein=self.squared_wasserstein, wasserstein_eps=self.wasserstein_eps,
        )
        y_pred = self._metrics_prediction(
            lambda: self._activate(self.base_model.decode_target(self.mapper.decode(mu_v, training=False)[0]))
        )
        return {"loss": self._weighted_total(terms, training), **terms}, y_pred

    def predict_path(self, x, path):
        """"mapper": target decoder(VD(VE(source Gaussian))), means only; "base": the wrapped model's prediction."""
        if path == "base":
            return self.base_model.predict_path(x, self.base_model.INFERENCE_PATHS[0])
        mapped_mean, _ = self.mapper(*self.base_model.source_distribution(x), training=False)
        return self._activate(self.base_model.decode_target(mapped_mean))

    def latent_distributions(self, x, y):
        """The wrapped model's source and target Gaussians, and the mapper's output."""
        source = self.base_model.source_distribution(x)
        return {
            "source": source,
            "mapped": self.mapper(*source, training=False),  # VD(mu_v), means only
            "target": self.base_model.target_distribution(y),
        }

    def get_config(self):
        config = super().get_config()
        config.update(squared_wasserstein=self.squared_wasserstein, wasserstein_eps=self.wasserstein_eps)
        return config
