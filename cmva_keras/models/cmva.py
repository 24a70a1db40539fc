"""`CMVA`: Cross-modal Variational Alignment of latent spaces (Theodoridis et al., 2020)."""

import keras

from cmva_keras import losses
from cmva_keras.layers.sublayer import call_part
from cmva_keras.models.mapper_terms import mapper_terms
from cmva_keras.models.staged_model import StagedModel
from cmva_keras.models.target_side import TargetSide
from cmva_keras.phases import PARTS, PHASES, TERMS

INFERENCE_PATHS = ("mapper", "upper")
NOISE_KEYS = ("z1", "z2", "z_v", "z_m")

DEFAULT_LOSS_WEIGHTS = {
    "rec_1": 1.0,
    "kl_1": 1e-3,
    "rec_2": 1.0,
    "kl_2": 1e-3,
    "rec_m": 1.0,
    "kl_m": 1e-3,
    "w2": 1e-2,
}


@keras.saving.register_keras_serializable(package="cmva_keras")
class CMVA(TargetSide, StagedModel):
    """Two VAE branches and a variational mapper between their latent spaces.

    Parts (each a replaceable Keras layer or model; the paper's symbols in brackets):

    - `source_encoder` [E1]: M1 input -> `(mu1, log_var1)`.
    - `source_decoder` [D1]: latent sample -> M2 logits or values (upper branch).
    - `target_encoder` [E2]: M2 target (flattened to K values) -> `(mu2, log_var2)`.
    - `target_decoder` [D2]: latent sample -> M2 logits or values (lower branch).
    - `mapper` [VE, VD]: a `cmva_keras.layers.Mapper`, or any layer with
      `encode(mu1, log_var1) -> (mu_v, log_var_v)` and
      `decode(z_v) -> (mu_m, log_var_m)`.

    The objective (`compute_objective`) is eq. (6) of the paper as docs/method.md
    states it: a weighted sum of seven terms, every KL term added. Which terms
    count and which parts train is set by the phase (`set_phase`, or the
    `PhaseSchedule` callback inside `fit`); see `cmva_keras.phases`. Phases,
    loss-weight variables, freezing and input checks come from `StagedModel`;
    the mapper's terms from `mapper_terms`, shared with `WithMapper`.

    Inference (`call`, `predict`) is deterministic and uses means only:
    `x -> E1 -> VE -> VD -> D2` (the "mapper" path). `predict(x, path="upper")`
    gives `D1(mu1)`, the paper's "without mapper" ablation. Classification
    outputs sigmoid probabilities, regression the decoder's values, both shaped
    `(batch,) + target_shape`.

    Args:
        source_encoder, source_decoder, target_encoder, target_decoder, mapper:
            the parts described above.
        target_shape: shape of one M2 target, e.g. `(265,)` or `(21, 3)`.
        task: `"classification"` (binary cross-entropy from logits, eq. 2) or
            `"regression"` (mean squared error, eq. 3).
        loss_weights: dict of base weights for the seven terms (missing ones
            take `DEFAULT_LOSS_WEIGHTS`); a phase multiplies the terms it does
            not optimise by zero.
        squared_wasserstein: use `W^2` instead of `W` for `w2`.
        wasserstein_eps: added under the square root of `W`.
        seed: seed of the reparameterisation noise (`None`: from Keras' global
            seed, set by `keras.utils.set_random_seed`).
        inactive_terms_every: in training, a reconstruction term the phase
            does not optimise (`rec_1`, `rec_2` in phase 2; `rec_m` in phase 1)
            is computed, for the log, on the first of every this many steps
            of an epoch, which skips its decoder pass on the others
            (`StagedModel`'s module doc); 1 computes it on every step.
        phase: the phase the model starts in.
        threshold: classification only: the probability above which a label is
            predicted (`predict_labels`); stored in a variable, so a threshold
            calibrated on validation data is saved with the model.
    """

    PARTS = PARTS
    TERMS = TERMS
    PHASES = PHASES
    INFERENCE_PATHS = INFERENCE_PATHS
    DEFAULT_LOSS_WEIGHTS = DEFAULT_LOSS_WEIGHTS
    NOISE_KEYS = NOISE_KEYS
    DECODED_TERMS = ("rec_1", "rec_2", "rec_m")

    def __init__(
        self,
        source_encoder,
        source_decoder,
        target_encoder,
        target_decoder,
        mapper,
        target_shape,
        task="classification",
        loss_weights=None,
        squared_wasserstein=False,
        wasserstein_eps=1e-8,
        seed=None,
        phase=1,
        threshold=0.5,
        inactive_terms_every=10,
        **kwargs,
    ):
        super().__init__(
            target_shape=target_shape, task=task, loss_weights=loss_weights, seed=seed, phase=phase,
            threshold=threshold, **kwargs,
        )
        # Parts.
        self.source_encoder = source_encoder
        self.source_decoder = source_decoder
        self.target_encoder = target_encoder
        self.target_decoder = target_decoder
        self.mapper = mapper
        self.squared_wasserstein = bool(squared_wasserstein)
        self.wasserstein_eps = float(wasserstein_eps)
        if int(inactive_terms_every) < 1:
            raise ValueError(f"inactive_terms_every must be a positive number of steps; got {inactive_terms_every}.")
        self.inactive_terms_every = int(inactive_terms_every)

    def build(self, input_shape):
        """Creates every part's weights from the source input shape `(batch, ...)`."""
        input_shape = tuple(input_shape)
        self._source_input_shape = input_shape[1:]
        x = keras.KerasTensor(input_shape)
        source_mean, source_log_var = self.source_encoder(x)
        self.source_decoder(source_mean)
        target_mean, _ = self.target_encoder(keras.KerasTensor((input_shape[0], self.target_dim)))
        self.target_decoder(target_mean)
        self.mapper(source_mean, source_log_var)
        self.built = True

    # --------------------------------------------------------------- objective
    def compute_objective(self, x, y, training=False, noise=None, log_flag=True):
        """The seven terms of eq. (6), their weighted sum, and the mapper-path prediction.

        Backend-agnostic (only `keras.ops`); the backend steps in
        `cmva_keras/backend/` differentiate `terms["loss"]`. In training, parts
        that the current phase freezes run with `training=False` (BatchNorm
        statistics stay put) and the terms it does not optimise are cut from
        the gradient.

        Args:
            x: source batch, `(batch,) + source input shape`.
            y: target batch, `(batch,) + target_shape`.
            training: whether this is a training step.
            noise: optional dict of standard-normal draws to use instead of
                sampling, keyed by `NOISE_KEYS` ("z1", "z2", "z_v", "z_m"), each
                `(batch, latent size)`; makes the terms a deterministic function
                of the weights and the batch (used to compare backends).
                None: `self.fixed_noise` if set (the training steps' case),
                else drawn.
            log_flag: the training steps pass `log_flag(steps this epoch)`:
                where it is not the constant True, the phase's
                `skipped_terms` are computed on flagged steps only (and are 0
                on the others). Default: every term on every call.

        Returns:
            `(terms, y_pred)`: `terms` maps "loss" and each of `TERMS` to a
            scalar; `y_pred` is the deterministic mapper-path prediction
            (means only), `(batch,) + target_shape`, for compiled metrics;
            None when the model has none.
        """
        self._check_inputs(x, y)
        run, trained = self._runner(training)
        noise = self._check_noise(noise)
        y_flat = self._flat_targets(y)

        def decoder(name):
            # `decode(z, training)` for `_logged_reconstruction`: the part in the phase's mode, or in
            # inference mode when the term is only logged.
            return lambda z, in_training: run(name, z) if in_training else call_part(self.part(name), z)

        def reconstruction(name, decoder_name):
            return lambda z: self._logged_reconstruction(name, y_flat, decoder(decoder_name), z, log_flag, training)

        # Upper branch: x -> E1 -> N(mu1, sigma1) -> z1 -> D1.
        mu1, log_var1 = self._frozen("source_encoder", trained, training, run("source_encoder", x))
        rec_1 = reconstruction("rec_1", "source_decoder")(self._sample(mu1, log_var1, noise.get("z1")))
        # Lower branch: y -> E2 -> N(mu2, sigma2) -> z2 -> D2.
        mu2, log_var2 = self._frozen("target_encoder", trained, training, run("target_encoder", y_flat))
        rec_2 = reconstruction("rec_2", "target_decoder")(self._sample(mu2, log_var2, noise.get("z2")))
        # Mapper: (mu1, sigma1) -> VE -> z_v -> VD -> N(mu_m, sigma_m) -> z_m -> D2.
        mapped, (mu_v, _) = mapper_terms(
            self, self.mapper, (mu1, log_var1), (mu2, log_var2), y_flat,
            lambda z: run("target_decoder", z), training="mapper" in trained, noise=noise,
            squared_wasserstein=self.squared_wasserstein, wasserstein_eps=self.wasserstein_eps,
            reconstruct=reconstruction("rec_m", "target_decoder"),
        )
        terms = {
            "rec_1": rec_1,
            "kl_1": losses.kl_to_standard_normal(mu1, log_var1),
            "rec_2": rec_2,
            "kl_2": losses.kl_to_standard_normal(mu2, log_var2),
            **mapped,
        }
        terms = {name: terms[name] for name in TERMS}
        # Deterministic prediction for compiled metrics (if any), reusing mu_v: VD means only.
        y_pred = self._metrics_prediction(
            lambda: self._activate(self.target_decoder(self.mapper.decode(mu_v, training=False)[0], training=False))
        )
        return {"loss": self._weighted_total(terms, training), **terms}, y_pred

    # --------------------------------------------------------------- inference
    def predict_path(self, x, path):
        """"mapper": `D2(VD(VE(mu1, sigma1)))`, means only (CMVA); "upper": `D1(mu1)` (without mapper)."""
        mu1, log_var1 = self.source_encoder(x, training=False)
        if path == "upper":
            return self._activate(self.source_decoder(mu1, training=False))
        mapped_mean, _ = self.mapper(mu1, log_var1, training=False)
        return self._activate(self.target_decoder(mapped_mean, training=False))

    # The interface `WithMapper` and alignment measurements use.
    def source_distribution(self, x):
        """E1's Gaussian `(mu1, log_var1)` (inference mode)."""
        return self.source_encoder(x, training=False)

    def latent_distributions(self, x, y):
        """E1's, the mapper's output and E2's Gaussians (see `StagedModel.latent_distributions`)."""
        source = self.source_distribution(x)
        # The mapper's deterministic output: VD(mu_v), its means only.
        return {"source": source, "mapped": self.mapper(*source, training=False), "target": self.target_distribution(y)}

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(squared_wasserstein=self.squared_wasserstein, wasserstein_eps=self.wasserstein_eps,
                      inactive_terms_every=self.inactive_terms_every)
        return config
