"""Ingredient recognition from food images (paper, section 4.1).

M1 is a food image, M2 its multi-hot ingredient vector; binary cross-entropy.

Variants and the exact commands (runtimes measured on 2 CPU cores, see README):
  default  python scripts/train.py --task food
           The offline synthetic Yummly-format set (generated on first use),
           a small DenseNet, 80x80 crops, 24 epochs. Measured, each alone on
           the cores: 3.5 min on TensorFlow, 3.3 min on JAX and 3.9 min on
           PyTorch (sharing the cores with other jobs can take several times
           longer); test F1 0.37-0.42 against 0.23 for the best constant
           prediction (README, "Results").
  smoke    python scripts/train.py --task food --variant smoke
           All three phases on a few batches; under 2 minutes.
  paper    python scripts/train.py --task food --variant paper \
               --dataset yummly28k --manual_dir ~/data/yummly28k
           DenseNet-121 (ImageNet weights from a file you pass with
           --set model.backbone_weights=PATH), 360x240 images, 224 crops,
           latent 512. Needs a GPU to finish in reasonable time.
"""

import ml_collections

from cmva_keras.configs import common

VARIANTS = ("default", "smoke", "paper")


def get_config(variant="default"):
    # data.dataset: "synthetic" (the offline default, Yummly-28K's layout), "yummly28k" or "recipe1m".
    config = common.run_block("food", variant)
    config.data.synthetic_recipes = 3000  # size of the generated set (85/15 split)
    config.data.image_size = (88, 132)  # (height, width) resize before cropping; paper: (240, 360)
    config.data.crop_size = 80  # square random crop (train) / centre crop (test); paper: 224

    # Backbone, paper: "densenet121"; latent size, paper: 512.
    config.model = common.model_block("densenet_tiny", latent_dim=128)
    config.model.extra_conv_filters = (128, 128)  # the two conv layers after the backbone

    config.train = common.train_block()

    config.eval = ml_collections.ConfigDict()
    config.eval.threshold = 0.5  # probability above which an ingredient is predicted

    if variant == "smoke":
        config.data.synthetic_recipes = 240
        config.data.image_size = (36, 54)
        config.data.crop_size = 32
        config.model.backbone = "convnet_tiny"
        config.model.latent_dim = 16
        config.model.extra_conv_filters = (16, 16)
    elif variant == "paper":
        config.data.dataset = "yummly28k"
        config.data.image_size = (240, 360)
        config.data.crop_size = 224
        config.model.backbone = "densenet121"
        config.model.latent_dim = 512
        config.model.extra_conv_filters = (512, 512)
    return common.finish(config, variant)
