"""The hand task's CMVA model (paper section 4.2): RGB hand crop -> 3D pose `(21, 3)`.

Parts (docs/method.md, "Hand task"):

- E1, source encoder: ResNet-18 whose last (classifier) layer is replaced by
  the Gaussian heads: backbone -> global average pooling -> mean, log-variance.
- E2, target encoder; D1, D2, decoders: "6 fully connected layers, with 512
  units per layer". We read this as six dense layers in all: five hidden
  layers of 512 units with ReLU, then the layer that gives the output (E2's
  Gaussian head, d means and d log-variances; D1's and D2's 63 pose values).
  Those last layers cannot have 512 units, so "512 per layer" can only describe
  the hidden ones. `hidden_units=(512,) * 6` gives the other reading
  (six hidden layers plus an output layer).
- VE, VD, mapper: one dense layer each.
- Task loss: mean squared error on the 63 normalised, root-relative
  coordinates.

Latent size: the paper does not give it for hands. We use d = 30, the size in
the released code of Spurr et al. (CVPR 2018, the paper's reference [30]:
`z_dim = 30` in github.com/spurra/vae-hands-3d, evaluate_model.py), whose
cross-modal VAE this task follows closely (ResNet-18 RGB encoder on 256x256
crops, fully connected pose encoder and decoder); it is an argument.
"""

import keras

from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.models import CMVA
from cmva_keras.tasks.common import image_shape, resolve_backbone

NUM_KEYPOINTS = 21
POSE_SHAPE = (NUM_KEYPOINTS, 3)

# Ready-made settings, passed as `build_hand_model(**VARIANTS[v])`.
VARIANTS = {
    # The paper: ResNet-18 on 256x256 crops, 6 x 512 dense layers.
    "paper": {
        "backbone": "resnet18",
        "image_size": 256,
        "latent_dim": 30,
        "hidden_units": (512,) * 5,
    },
    # Small enough to train on 2 CPU cores (configs/hand.py's default).
    "small": {
        "backbone": "resnet_small",
        "image_size": 64,
        "latent_dim": 30,
        "hidden_units": (512,),
    },
}


def build_hand_image_features(*, image_size, backbone="resnet18", backbone_weights=None, input_normalization="unit"):
    """E1's feature extractor: images `(batch, H, W, 3)` in 0..255 -> pooled features `(batch, channels)`.

    The backbone, then global average pooling (ResNet's own pooling; its
    classifier is left out). Returned as a `keras.Sequential` named
    "hand_image_features". The arguments are `build_hand_model`'s.
    """
    input_shape = image_shape(image_size)
    return keras.Sequential(
        [
            keras.Input(input_shape, name="image"),
            resolve_backbone(
                backbone, input_shape=input_shape, weights=backbone_weights,
                input_normalization=input_normalization,
            ),
            keras.layers.GlobalAveragePooling2D(name="average_pool"),
        ],
        name="hand_image_features",
    )


def build_hand_model(
    *,
    image_size,
    backbone="resnet18",
    backbone_weights=None,
    latent_dim=30,
    hidden_units=(512,) * 5,
    activation="relu",
    input_normalization="unit",
    seed=None,
    loss_weights=None,
    squared_wasserstein=False,
):
    """The hand task's `CMVA`: images `(batch, H, W, 3)` (0..255) -> poses `(batch, 21, 3)`.

    Args:
        image_size: the crop size fed to the network, an int or `(H, W)`
            (256 in the paper).
        backbone: a name of `cmva_keras.backbones.BACKBONES`, or a Keras model
            mapping images `(batch, H, W, 3)` in 0..255 to a feature map.
        backbone_weights: None, or a weights file the user supplies for a
            named backbone (see `build_backbone`).
        latent_dim: d, the size of every latent Gaussian (ours: 30, see the
            module docstring).
        hidden_units: hidden layers of E2, D1 and D2; each adds its output
            layer (default: five of 512, six layers in all).
        activation: activation of those hidden layers.
        input_normalization: "unit" (x / 255) or "imagenet" (also ImageNet
            mean/std), whichever the backbone weights expect.
        seed: seed of CMVA's reparameterisation noise. Weight initialisation
            follows `keras.utils.set_random_seed`.
        loss_weights, squared_wasserstein: passed to `CMVA`.

    Returns:
        An unbuilt `CMVA` (task "regression", `target_shape=(21, 3)`); it
        builds on its first call or `model.build((None, H, W, 3))`.
    """
    hidden_units = tuple(int(u) for u in hidden_units)
    pose_dim = NUM_KEYPOINTS * 3
    features = build_hand_image_features(
        image_size=image_size, backbone=backbone, backbone_weights=backbone_weights,
        input_normalization=input_normalization,
    )
    return CMVA(
        source_encoder=GaussianEncoder(latent_dim, backbone=features, name="image_encoder"),
        source_decoder=MLP(pose_dim, hidden_units=hidden_units, activation=activation, name="image_pose_decoder"),
        target_encoder=GaussianEncoder(
            latent_dim, hidden_units=hidden_units, activation=activation, name="pose_encoder"
        ),
        target_decoder=MLP(pose_dim, hidden_units=hidden_units, activation=activation, name="pose_decoder"),
        mapper=Mapper(latent_dim, name="mapper"),
        target_shape=POSE_SHAPE,
        task="regression",
        loss_weights=loss_weights,
        squared_wasserstein=squared_wasserstein,
        seed=seed,
        name="cmva_hand",
    )
