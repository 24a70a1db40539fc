"""`CADAVAE`: Schönfeld et al.'s CADA-VAE (CVPR 2019), the CMVA paper's CADA-VAE baseline."""

import keras

from cmva_keras import losses
from cmva_keras.models.staged_model import StagedModel
from cmva_keras.models.target_side import TargetSide
from cmva_keras.phases import Phase

PARTS = ("feature_extractor", "feature_head", "image_encoder", "image_decoder", "target_encoder",
         "target_decoder", "latent_head")
VAE_PARTS = ("image_encoder", "image_decoder", "target_encoder", "target_decoder")
VAE_TERMS = ("rec_image", "rec_target", "kl_image", "kl_target", "cross_image", "cross_target", "distance")
TERMS = ("rec_features",) + VAE_TERMS + ("rec_head",)
INFERENCE_PATHS = ("classifier", "cross")
NOISE_KEYS = ("z_image", "z_target")

# The official code's maxima of its warm-up weights (beta, gamma, delta); reconstruction 1.
DEFAULT_LOSS_WEIGHTS = {
    "rec_features": 1.0,
    "rec_image": 1.0,
    "rec_target": 1.0,
    "kl_image": 0.25,
    "kl_target": 0.25,
    "cross_image": 2.37,
    "cross_target": 2.37,
    "distance": 8.13,
    "rec_head": 1.0,
}

# The official warm-ups (edgarschnfld/CADA-VAE-PyTorch, single_experiment.py, 100 epochs):
# beta 0 -> 0.25 over epochs 0-93, gamma 0 -> 2.37 over 21-75, delta 0 -> 8.13 over 6-22;
# here (start, end) as fractions of the VAE phase's epochs.
WARMUPS = {
    "kl_image": (0.0, 0.93),
    "kl_target": (0.0, 0.93),
    "cross_image": (0.21, 0.75),
    "cross_target": (0.21, 0.75),
    "distance": (0.06, 0.22),
}
VAE_PHASE = 2


def warmup_callbacks(schedule, vae_phase_epochs=None, warmups=None):
    """`LossWeightRamp`s of CADA-VAE's warm-ups for the VAE phase (phase 2), in `WARMUPS`' order.

    Each term's weight rises linearly from 0 at epoch `start * E` to its base
    weight at `end * E` of the VAE phase (`E` epochs), the official schedule
    `clip((epoch - start) / (end - start) * max, 0, max)` with epochs counted
    from the phase's first. Put them after `schedule` in the callback list.

    Args:
        schedule: the run's `PhaseSchedule` (it says when phase 2 starts).
        vae_phase_epochs: `E`; defaults to the schedule's phase-2 epoch count.
        warmups: `{term: (start, end)}` fractions; defaults to `WARMUPS`.
    """
    # Imported here: the callbacks do not belong to the models' import graph.
    from cmva_keras.callbacks.loss_weight_ramp import LossWeightRamp

    if vae_phase_epochs is None:
        if schedule is None:
            raise ValueError("warmup_callbacks needs vae_phase_epochs when no PhaseSchedule is given.")
        vae_phase_epochs = schedule.phase_epochs[VAE_PHASE - 1]
    if vae_phase_epochs <= 0:
        raise ValueError(f"vae_phase_epochs is the VAE phase's (phase 2's) epoch count and must be positive; "
                         f"got {vae_phase_epochs}.")
    warmups = WARMUPS if warmups is None else warmups
    unknown = sorted(set(warmups) - set(TERMS))
    if unknown:
        raise ValueError(f"Unknown CADAVAE term(s) {unknown} in warmups: the terms are {list(TERMS)}.")
    return [
        LossWeightRamp(term, start * vae_phase_epochs, end * vae_phase_epochs, phase=VAE_PHASE, schedule=schedule)
        for term, (start, end) in warmups.items()
    ]


@keras.saving.register_keras_serializable(package="cmva_keras")
class CADAVAE(TargetSide, StagedModel):
    """Two VAEs, on image features and on targets, aligned by cross-reconstruction and a Wasserstein distance.

    As the CMVA paper used it (section 4.1.2): "the image encoder and decoder
    processed feature vectors extracted from images instead of the images
    themselves", all four paths (img -> img, target -> target, img -> target,
    target -> img) are trained, and "an additional classifier" on the latent
    space gives the final prediction.

    Parts (each a replaceable Keras layer or model):

    - `feature_extractor`: image -> features `(batch, F)` (backbone + pooling).
    - `feature_head`: features -> K logits or values (a linear layer; phase 1).
    - `image_encoder`: features -> `(mean, log_var)` (a `GaussianEncoder`
      with one hidden layer).
    - `image_decoder`: latent sample -> F features (an `MLP`).
    - `target_encoder`: target (flattened to K values) -> `(mean, log_var)`.
    - `target_decoder`: latent sample -> K logits or values.
    - `latent_head`: latent -> K logits or values (one Dense layer; phase 3).

    Phases (`PhaseSchedule` with three epoch counts):

    1. **Features.** In the original the features come from a fixed ImageNet
       network. With no pretrained weights offline, phase 1 trains the feature
       extractor with the linear `feature_head` on the task loss
       (`rec_features`), like fine-tuning a pretrained network on the dataset;
       from phase 2 on it is frozen (inference mode, so BatchNorm statistics
       stay put). With ImageNet weights, give phase 1 zero epochs.
    2. **VAEs** on the frozen features, with `z_image`, `z_target` samples of
       the two Gaussians: `rec_image` (L1 of `image_decoder(z_image)` to the
       features, which are a constant of the objective: stop-gradient),
       `rec_target` (task loss of `target_decoder(z_target)`), `kl_image`,
       `kl_target`, `cross_image` (L1 of `image_decoder(z_target)` to the
       features), `cross_target` (task loss of `target_decoder(z_image)`) and
       `distance` (the 2-Wasserstein distance between the two diagonal
       Gaussians, `sqrt(||mu_i - mu_t||^2 + ||sigma_i - sigma_t||^2)`).
       `warmup_callbacks` adds the official warm-up ramps.
    3. **Latent head** on sampled latents of both modalities (the original
       trains its classifier on sampled latent features): `rec_head` is the
       task loss of `latent_head` on `z_image` and on `z_target`, averaged over
       the 2 * batch samples. Everything else is frozen.

    The task loss is binary cross-entropy from logits (classification) or
    squared error (regression), where the official code's attribute side uses
    L1: the targets here are labels or coordinates, as in CMVA.

    **Scale convention** (the official code's relative scales): reconstruction
    and cross-reconstruction terms are SUMMED over their dimensions (features;
    labels or coordinates: `losses.l1_sum`,
    `losses.binary_crossentropy_from_logits_sum`, `losses.squared_error_sum`),
    KL is summed over the latent dimensions, and all are averaged over the
    batch (the official code also sums over the batch; a batch mean only
    rescales the learning rate). `rec_features` and `rec_head` follow the same
    convention. The default weights are the official maxima: KL 0.25,
    cross-reconstruction 2.37, distance 8.13, reconstruction 1.

    **Where this follows the paper, not the official code:**

    - `sigma = exp(0.5 * log_var)` everywhere. The encoders output a
      log-variance (the KL term treats it as one in both); the official
      `reparameterize` multiplies the noise by `exp(logvar)`, the variance, a
      quirk. The Wasserstein distance needs the standard deviation.
    - One noise value per latent dimension. The official code draws noise of
      shape (batch, 1) and broadcasts it over the dimensions, which makes the
      sample's dimensions perfectly correlated, unlike the diagonal Gaussian
      the KL and distance terms assume.

    Inference (`call`, `predict`) is deterministic: "classifier" (the
    original's final prediction) is `latent_head(image latent mean)`, "cross"
    is `target_decoder(image latent mean)`; sigmoid probabilities for
    classification, shaped `(batch,) + target_shape`.

    Args:
        feature_extractor, feature_head, image_encoder, image_decoder,
            target_encoder, target_decoder, latent_head: the parts.
        target_shape, task, loss_weights, seed, phase, threshold: as for
            every `StagedModel`.
        wasserstein_eps: added under the distance's square root (a finite
            gradient where the Gaussians coincide).
    """

    PARTS = PARTS
    TERMS = TERMS
    PHASES = {
        1: Phase(1, "feature extractor and feature head trained on the task loss",
                 ("feature_extractor", "feature_head"), ("rec_features",), best_by="rec_features"),
        2: Phase(2, "the two VAEs on frozen features: reconstruction, cross-reconstruction, KL, distance",
                 VAE_PARTS, VAE_TERMS, best_by="cross"),
        3: Phase(3, "the latent head on sampled latents; everything else frozen", ("latent_head",), ("rec_head",)),
    }
    INFERENCE_PATHS = INFERENCE_PATHS
    DEFAULT_LOSS_WEIGHTS = DEFAULT_LOSS_WEIGHTS
    NOISE_KEYS = NOISE_KEYS

    def __init__(self, feature_extractor, feature_head, image_encoder, image_decoder, target_encoder,
                 target_decoder, latent_head, target_shape, task="classification", loss_weights=None,
                 wasserstein_eps=1e-8, seed=None, phase=1, threshold=0.5, **kwargs):
        super().__init__(
            target_shape=target_shape, task=task, loss_weights=loss_weights, seed=seed, phase=phase,
            threshold=threshold, **kwargs,
        )
        self.feature_extractor = feature_extractor
        self.feature_head = feature_head
        self.image_encoder = image_encoder
        self.image_decoder = image_decoder
        self.target_encoder = target_encoder
        self.target_decoder = target_decoder
        self.latent_head = latent_head
        self.wasserstein_eps = float(wasserstein_eps)

    def build(self, input_shape):
        """Creates every part's weights from the image input shape `(batch, H, W, C)`."""
        input_shape = tuple(input_shape)
        self._source_input_shape = input_shape[1:]
        features = self.feature_extractor(keras.KerasTensor(input_shape))
        if len(features.shape) != 2:
            raise ValueError(
                f"CADAVAE's feature_extractor must output feature vectors (batch, F); it outputs shape "
                f"{tuple(features.shape)}. End it with a pooling or Flatten layer."
            )
        image_mean, _ = self.image_encoder(features)
        target_mean, _ = self.target_encoder(keras.KerasTensor((input_shape[0], self.target_dim)))
        for name, output, size, fix in (
            ("image_decoder", self.image_decoder(image_mean), features.shape[-1], "the feature size F"),
            ("feature_head", self.feature_head(features), self.target_dim, "K, the flattened target size"),
            ("target_decoder", self.target_decoder(target_mean), self.target_dim, "K, the flattened target size"),
            ("latent_head", self.latent_head(image_mean), self.target_dim, "K, the flattened target size"),
        ):
            if tuple(output.shape[1:]) != (size,):
                raise ValueError(
                    f"CADAVAE's {name} outputs shape {tuple(output.shape)}, expected (batch, {size}): give it "
                    f"{size} outputs ({fix})."
                )
        self.built = True

    # --------------------------------------------------------------- objective
    def _task_loss(self, targets, outputs):
        """The task loss summed over the K dimensions, batch mean (the scale convention)."""
        if self.task == "classification":
            return losses.binary_crossentropy_from_logits_sum(targets, outputs)
        return losses.squared_error_sum(targets, outputs)

    def compute_objective(self, x, y, training=False, noise=None, log_flag=True):
        """The nine terms, the phase's weighted sum, and the "classifier"-path prediction.

        Every term is computed in every phase (a phase weights the others 0
        and cuts them from the gradient), so History shows them all.

        Args:
            x: image batch `(batch, H, W, C)`.
            y: target batch, `(batch,) + target_shape`.
            training: whether this is a training step.
            noise: optional fixed standard-normal draws keyed "z_image" and
                "z_target", each `(batch, latent size)`.

        Returns:
            `(terms, y_pred)` as `CMVA.compute_objective`.
        """
        self._check_inputs(x, y)
        run, trained = self._runner(training)
        noise = self._check_noise(noise)
        y_flat = self._flat_targets(y)
        (features,) = self._frozen("feature_extractor", trained, training, (run("feature_extractor", x),))
        rec_features = self._task_loss(y_flat, run("feature_head", features))
        # The VAEs read the features; as a reconstruction target they are a constant.
        feature_target = keras.ops.stop_gradient(features)
        image_mean, image_log_var = self._frozen("image_encoder", trained, training, run("image_encoder", features))
        target_mean, target_log_var = self._frozen(
            "target_encoder", trained, training, run("target_encoder", y_flat)
        )
        z_image = self._sample(image_mean, image_log_var, noise.get("z_image"))
        z_target = self._sample(target_mean, target_log_var, noise.get("z_target"))
        # The head learns from sampled latents; the encoders stay out of its gradient.
        head_inputs = keras.ops.stop_gradient(keras.ops.concatenate([z_image, z_target], axis=0))
        head_targets = keras.ops.concatenate([y_flat, y_flat], axis=0)
        terms = {
            "rec_features": rec_features,
            "rec_image": losses.l1_sum(feature_target, run("image_decoder", z_image)),
            "rec_target": self._task_loss(y_flat, run("target_decoder", z_target)),
            "kl_image": losses.kl_to_standard_normal(image_mean, image_log_var),
            "kl_target": losses.kl_to_standard_normal(target_mean, target_log_var),
            "cross_image": losses.l1_sum(feature_target, run("image_decoder", z_target)),
            "cross_target": self._task_loss(y_flat, run("target_decoder", z_image)),
            "distance": losses.wasserstein2_diagonal(
                image_mean, image_log_var, target_mean, target_log_var, eps=self.wasserstein_eps,
            ),
            "rec_head": self._task_loss(head_targets, run("latent_head", head_inputs)),
        }
        y_pred = self._metrics_prediction(lambda: self._activate(self.latent_head(image_mean, training=False)))
        return {"loss": self._weighted_total(terms, training), **terms}, y_pred

    # --------------------------------------------------------------- inference
    def predict_path(self, x, path):
        """"classifier": `latent_head(image latent mean)`; "cross": `target_decoder(image latent mean)`."""
        image_mean, _ = self.source_distribution(x)
        if path == "cross":
            return self._activate(self.decode_target(image_mean))
        return self._activate(self.latent_head(image_mean, training=False))

    def extract_features(self, x):
        """The feature extractor's `(batch, F)` features (inference mode)."""
        return self.feature_extractor(x, training=False)

    def source_distribution(self, x):
        """The image encoder's Gaussian on the extracted features (inference mode)."""
        return self.image_encoder(self.extract_features(x), training=False)

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(wasserstein_eps=self.wasserstein_eps)
        return config
