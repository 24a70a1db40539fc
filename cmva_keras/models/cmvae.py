"""`CMVAE`: the cross-modal VAE of Spurr et al. (CVPR 2018), the CMVA paper's CM-VAE baseline."""

import keras
from keras import ops

from cmva_keras import losses
from cmva_keras.models.staged_model import StagedModel
from cmva_keras.models.target_side import TargetSide
from cmva_keras.phases import Phase

PARTS = ("image_encoder", "image_decoder", "target_encoder", "target_decoder")
TERMS = ("rec_image", "kl_image", "rec_target", "kl_target", "rec_cross")
INFERENCE_PATHS = ("cross",)
NOISE_KEYS = ("z_image", "z_target")

DEFAULT_LOSS_WEIGHTS = {
    "rec_image": 1.0,
    "kl_image": 1e-3,
    "rec_target": 1.0,
    "kl_target": 1e-3,
    "rec_cross": 1.0,
}


@keras.saving.register_keras_serializable(package="cmva_keras")
class CMVAE(TargetSide, StagedModel):
    """One latent space shared by an image VAE and a target VAE, decoded across (Spurr et al.'s "Var. 4").

    The CMVA paper (section 4.1.2) compares against CM-VAE "trained similarly
    to Var. 4 of [Spurr et al.]": the paths img -> img, target -> target and
    img -> target, all through one latent space, with an image decoder that is
    "a 7-layer CNN" (`cmva_keras.layers.ConvImageDecoder`).

    Parts (each a replaceable Keras layer or model):

    - `image_encoder`: image -> `(mean, log_var)` (a `GaussianEncoder` over an
      image backbone).
    - `image_decoder`: latent sample -> image in [0, 1], `(batch, H, W, C)`
      (a `ConvImageDecoder` for the input's H, W, C).
    - `target_encoder`: target (flattened to K values) -> `(mean, log_var)`.
    - `target_decoder`: latent sample -> K logits (classification) or values.

    Terms (`compute_objective`), with `z_image ~ N(image Gaussian)` and
    `z_target ~ N(target Gaussian)`, one noise value per latent dimension:

    - `rec_image`: `mean((image_decoder(z_image) - x / pixel_scale)^2)` over
      pixels and batch (img -> img);
    - `kl_image`: KL of the image Gaussian to N(0, I);
    - `rec_target`: task loss of `target_decoder(z_target)` (binary
      cross-entropy from logits, or mean squared error; target -> target);
    - `kl_target`: KL of the target Gaussian to N(0, I);
    - `rec_cross`: task loss of `target_decoder(z_image)` (img -> target).

    **All three paths in every step.** Spurr et al. alternate between paths
    from batch to batch; here the three paths' terms are summed, with weights,
    in every step. That gives one deterministic objective (a function of the
    weights, the batch and the noise, which the tests compare with a NumPy
    reference and across backends), the same behaviour on TensorFlow, JAX and
    PyTorch (no per-batch Python switching inside a traced step), and needs no
    guess at the alternation schedule, which is not in the public code
    (spurra/vae-hands-3d has evaluation code only).

    **Default weights:** the reconstruction terms 1, the KL terms 1e-3, the
    same scale as CMVA's defaults, so that the two compare at equal settings.
    The loss conventions are CMVA's too (task losses and image MSE averaged
    over dimensions, KL summed over latent dimensions, all batch means).

    One phase trains everything. Inference (`call`, `predict`) is the "cross"
    path, deterministic: image -> image encoder mean -> target decoder
    (sigmoid probabilities for classification), shaped `(batch,) +
    target_shape`. `source_distribution`, `target_distribution` and
    `decode_target` let `WithMapper` add a mapper (CM-VAE + Mapper).

    Args:
        image_encoder, image_decoder, target_encoder, target_decoder: the parts.
        target_shape, task, loss_weights, seed, phase, threshold: as for
            every `StagedModel`.
        pixel_scale: the image decoder's target is `x / pixel_scale` (255:
            pixels arrive in [0, 255]; 1 for images already in [0, 1]).
    """

    PARTS = PARTS
    TERMS = TERMS
    PHASES = {1: Phase(1, "all three paths (img->img, target->target, img->target), everything trained", PARTS, TERMS)}
    INFERENCE_PATHS = INFERENCE_PATHS
    DEFAULT_LOSS_WEIGHTS = DEFAULT_LOSS_WEIGHTS
    NOISE_KEYS = NOISE_KEYS

    def __init__(self, image_encoder, image_decoder, target_encoder, target_decoder, target_shape,
                 task="classification", loss_weights=None, pixel_scale=255.0, seed=None, phase=1, threshold=0.5,
                 **kwargs):
        super().__init__(
            target_shape=target_shape, task=task, loss_weights=loss_weights, seed=seed, phase=phase,
            threshold=threshold, **kwargs,
        )
        self.image_encoder = image_encoder
        self.image_decoder = image_decoder
        self.target_encoder = target_encoder
        self.target_decoder = target_decoder
        self.pixel_scale = float(pixel_scale)
        if self.pixel_scale <= 0:
            raise ValueError(f"pixel_scale divides the pixels to [0, 1] and must be positive; got {pixel_scale}.")

    def build(self, input_shape):
        """Creates every part's weights from the image input shape `(batch, H, W, C)`."""
        input_shape = tuple(input_shape)
        self._source_input_shape = input_shape[1:]
        image_mean, _ = self.image_encoder(keras.KerasTensor(input_shape))
        decoded = self.image_decoder(image_mean)
        if tuple(decoded.shape[1:]) != tuple(input_shape[1:]):
            raise ValueError(
                f"CMVAE's image decoder outputs images of shape {tuple(decoded.shape[1:])}, but the inputs are "
                f"{tuple(input_shape[1:])}. Build the decoder for the input size, e.g. "
                f"ConvImageDecoder(image_shape={tuple(input_shape[1:])})."
            )
        target_mean, _ = self.target_encoder(keras.KerasTensor((input_shape[0], self.target_dim)))
        self.target_decoder(target_mean)
        self.built = True

    # --------------------------------------------------------------- objective
    def compute_objective(self, x, y, training=False, noise=None, log_flag=True):
        """The five terms, their weighted sum, and the "cross"-path prediction.

        Args:
            x: image batch `(batch, H, W, C)`, pixels in [0, pixel_scale].
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
        image_mean, image_log_var = self._frozen("image_encoder", trained, training, run("image_encoder", x))
        z_image = self._sample(image_mean, image_log_var, noise.get("z_image"))
        decoded_image = run("image_decoder", z_image)
        pixels = ops.cast(x, decoded_image.dtype) / self.pixel_scale
        target_mean, target_log_var = self._frozen(
            "target_encoder", trained, training, run("target_encoder", y_flat)
        )
        z_target = self._sample(target_mean, target_log_var, noise.get("z_target"))
        terms = {
            "rec_image": losses.mean_squared_error(pixels, decoded_image),
            "kl_image": losses.kl_to_standard_normal(image_mean, image_log_var),
            "rec_target": self._reconstruction(y_flat, run("target_decoder", z_target)),
            "kl_target": losses.kl_to_standard_normal(target_mean, target_log_var),
            "rec_cross": self._reconstruction(y_flat, run("target_decoder", z_image)),
        }
        y_pred = self._metrics_prediction(
            lambda: self._activate(self.target_decoder(image_mean, training=False))
        )
        return {"loss": self._weighted_total(terms, training), **terms}, y_pred

    # --------------------------------------------------------------- inference
    def predict_path(self, x, path):
        """"cross": `target_decoder(image encoder mean)`, deterministic."""
        return self._activate(self.decode_target(self.source_distribution(x)[0]))

    def source_distribution(self, x):
        """The image encoder's Gaussian `(mean, log_var)` (inference mode)."""
        return self.image_encoder(x, training=False)

    def decode_image(self, z):
        """The image decoder's images in [0, 1] for latent samples `z` (inference mode)."""
        return self.image_decoder(z, training=False)

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(pixel_scale=self.pixel_scale)
        return config
