"""The baselines' models for a task, from the task's own image features (Table 1's comparison).

Each baseline reuses what the task gives CMVA, so that a comparison changes
the method and nothing else: the same image backbone and extra layers
(`Task.image_features`), the same latent size, and the task's target
encoder/decoder depth (`target_hidden_units`: none for food, the hand
config's `hidden_units` for hands).
"""

import math

import keras

from cmva_keras.layers import MLP, ConvImageDecoder, GaussianEncoder
from cmva_keras.precision import full_precision


def build_cmvae(task, config, input_shape, target_shape, *, target_hidden_units=()):
    """CM-VAE (Spurr et al.): image encoder and 7-layer conv image decoder, target encoder and decoder."""
    from cmva_keras.models import CMVAE

    target_dim = math.prod(target_shape)
    latent = config.model.latent_dim
    return CMVAE(
        image_encoder=GaussianEncoder(latent, backbone=task.image_features(config, input_shape), name="image_encoder"),
        image_decoder=ConvImageDecoder(input_shape, name="image_decoder"),
        target_encoder=GaussianEncoder(latent, hidden_units=target_hidden_units, name="target_encoder"),
        target_decoder=MLP(target_dim, hidden_units=target_hidden_units, name="target_decoder"),
        target_shape=target_shape,
        task=task.problem,
        loss_weights=config.methods.cmvae.loss_weights.to_dict(),
        seed=config.seed,
        name=f"cmvae_{task.name}",
    )


def build_cadavae(task, config, input_shape, target_shape, *, target_hidden_units=()):
    """CADA-VAE (Schönfeld et al.): VAEs on backbone features with a single hidden layer each, and a latent head."""
    from cmva_keras.models import CADAVAE

    target_dim = math.prod(target_shape)
    latent = config.model.latent_dim
    hidden = (int(config.methods.cadavae.hidden_units),)
    features = task.image_features(config, input_shape)
    feature_dim = int(features.output_shape[-1])
    return CADAVAE(
        feature_extractor=features,
        # The linear heads' logits or values enter the objective: float32 under a mixed policy.
        feature_head=keras.layers.Dense(target_dim, name="feature_head", dtype=full_precision()),
        image_encoder=GaussianEncoder(latent, hidden_units=hidden, name="image_encoder"),
        image_decoder=MLP(feature_dim, hidden_units=hidden, name="image_decoder"),
        target_encoder=GaussianEncoder(latent, hidden_units=hidden, name="target_encoder"),
        target_decoder=MLP(target_dim, hidden_units=hidden, name="target_decoder"),
        latent_head=keras.layers.Dense(target_dim, name="latent_head", dtype=full_precision()),
        target_shape=target_shape,
        task=task.problem,
        seed=config.seed,
        name=f"cadavae_{task.name}",
    )
