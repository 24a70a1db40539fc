"""The food task's CMVA model (paper section 4.1): food image -> multi-hot ingredients.

Parts (docs/method.md, "Food task"):

- E1, source encoder: image backbone (DenseNet-121 in the paper) -> two more
  convolutions -> global average pooling -> Gaussian heads (mean, log-variance).
- E2, target encoder: one dense layer (the Gaussian head) on the multi-hot vector.
- D1, D2, decoders: one dense layer each, latent -> K ingredient logits.
- VE, VD, mapper: one dense layer each.
- Latent size d = 512 for every distribution; binary cross-entropy task loss.

The paper does not give the two extra convolutions' sizes. We use a 1x1
convolution that projects DenseNet-121's 1024 channels to 512, then a 3x3
convolution with 512 filters, each without bias and followed by batch
normalisation and ReLU (2.9M parameters on top of the backbone's 7.0M): the
projection keeps the added cost below the backbone's while the 3x3 layer still
mixes the 7x7 spatial context before pooling.
"""

import keras
import numpy as np

from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.models import CMVA
from cmva_keras.tasks.common import image_shape, resolve_backbone, training_cache
from cmva_keras.tasks.task import Task


def build_food_image_features(
    *, image_size, backbone="densenet121", backbone_weights=None, extra_conv_filters=(512, 512),
    extra_conv_kernel_sizes=(1, 3), input_normalization="unit",
):
    """E1's feature extractor: images `(batch, H, W, 3)` in 0..255 -> features `(batch, extra_conv_filters[-1])`.

    The backbone, then one Conv2D (no bias) + BatchNorm + ReLU per entry of
    `extra_conv_filters` (kernel sizes `extra_conv_kernel_sizes`, "same"
    padding), then global average pooling. Returned as a `keras.Sequential`
    named "food_image_features". The arguments are `build_food_model`'s.
    """
    extra_conv_filters = tuple(int(f) for f in extra_conv_filters)
    extra_conv_kernel_sizes = tuple(int(k) for k in extra_conv_kernel_sizes)
    if len(extra_conv_filters) != len(extra_conv_kernel_sizes):
        raise ValueError(
            f"extra_conv_filters {extra_conv_filters} and extra_conv_kernel_sizes "
            f"{extra_conv_kernel_sizes} must have one entry per extra convolution."
        )
    input_shape = image_shape(image_size)
    layers = [
        keras.Input(input_shape, name="image"),
        resolve_backbone(
            backbone, input_shape=input_shape, weights=backbone_weights,
            input_normalization=input_normalization,
        ),
    ]
    for i, (filters, kernel_size) in enumerate(zip(extra_conv_filters, extra_conv_kernel_sizes)):
        layers += [
            keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=f"extra_conv{i}"),
            keras.layers.BatchNormalization(name=f"extra_conv{i}_bn"),
            keras.layers.ReLU(name=f"extra_conv{i}_relu"),
        ]
    layers.append(keras.layers.GlobalAveragePooling2D(name="average_pool"))
    return keras.Sequential(layers, name="food_image_features")


def build_food_model(
    *,
    num_ingredients,
    image_size,
    backbone="densenet121",
    backbone_weights=None,
    latent_dim=512,
    extra_conv_filters=(512, 512),
    extra_conv_kernel_sizes=(1, 3),
    input_normalization="unit",
    seed=None,
    loss_weights=None,
    squared_wasserstein=False,
    inactive_terms_every=10,
):
    """The food task's `CMVA`: images `(batch, H, W, 3)` (0..255) -> ingredient probabilities `(batch, K)`.

    Args:
        num_ingredients: K, the size of the multi-hot ingredient vector
            (265 on Yummly-28K, 1,488 on Recipe1M in the paper).
        image_size: the crop size fed to the network, an int or `(H, W)`
            (224 in the paper).
        backbone: a name of `cmva_keras.backbones.BACKBONES`, or a Keras model
            mapping images `(batch, H, W, 3)` in 0..255 to a feature map.
        backbone_weights: None, or a weights file the user supplies for a
            named backbone (e.g. ImageNet weights; see `build_backbone`).
        latent_dim: d, the size of every latent Gaussian (512 in the paper).
        extra_conv_filters, extra_conv_kernel_sizes: the convolutions between
            backbone and pooling (the paper's "two more"; sizes are ours, see
            the module docstring).
        input_normalization: "unit" (x / 255) or "imagenet" (also ImageNet
            mean/std, for keras.applications' DenseNet weights).
        seed: seed of CMVA's reparameterisation noise. Weight initialisation
            follows `keras.utils.set_random_seed`.
        loss_weights, squared_wasserstein, inactive_terms_every: passed to `CMVA`.

    Returns:
        An unbuilt `CMVA` (task "classification", `target_shape=(K,)`); it
        builds on its first call or `model.build((None, H, W, 3))`.
    """
    num_ingredients = int(num_ingredients)
    if num_ingredients < 1:
        raise ValueError(f"num_ingredients must be positive; got {num_ingredients}.")
    features = build_food_image_features(
        image_size=image_size, backbone=backbone, backbone_weights=backbone_weights,
        extra_conv_filters=extra_conv_filters, extra_conv_kernel_sizes=extra_conv_kernel_sizes,
        input_normalization=input_normalization,
    )
    return CMVA(
        source_encoder=GaussianEncoder(latent_dim, backbone=features, name="image_encoder"),
        source_decoder=MLP(num_ingredients, name="image_ingredient_decoder"),
        target_encoder=GaussianEncoder(latent_dim, name="ingredient_encoder"),
        target_decoder=MLP(num_ingredients, name="ingredient_decoder"),
        mapper=Mapper(latent_dim, name="mapper"),
        target_shape=(num_ingredients,),
        task="classification",
        loss_weights=loss_weights,
        squared_wasserstein=squared_wasserstein,
        inactive_terms_every=inactive_terms_every,
        seed=seed,
        name="cmva_food",
    )


TOP_INGREDIENTS = 6  # t-SNE: colour by the most frequent of these ingredients


class FoodTask(Task):
    """Ingredient recognition from food images (section 4.1): multi-label classification.

    Datasets: the synthetic offline default (Yummly-28K's layout), Yummly-28K
    and Recipe1M. Scores: per-recipe F1 and IoU (the Yummly-28K protocol),
    micro F1 and IoU (the inverse-cooking protocol used for Recipe1M) and
    macro F1. TTA: five crops (centre and corners) and their mirrors.
    """

    name = "food"
    problem = "classification"
    config_module = "cmva_keras.configs.food"
    datasets = ("synthetic", "yummly28k", "recipe1m")
    primary_metric = "f1"
    higher_is_better = True
    table_metrics = ("f1", "iou", "f1_micro", "iou_micro", "f1_macro")
    paper_table = "Table 1 (Yummly-28K, F1 / IoU per recipe, %)"
    paper_results = {
        "CM-VAE": {"f1": 39.80, "iou": 26.35},
        "CADA-VAE": {"f1": 40.75, "iou": 27.15},
        "CM-VAE + Mapper": {"f1": 40.57, "iou": 27.00},
        "CADA-VAE + Mapper": {"f1": 41.00, "iou": 27.45},
        "CMVA": {"f1": 45.59, "iou": 31.61},
        "CMVA + TTA": {"f1": 47.23, "iou": 32.97},
    }


    # ---------------------------------------------------------------- datasets
    def synthetic_sizes(self, config):
        """Arguments of `cmva_keras.synthetic.ensure_default("food", ...)` for `config`."""
        return {"num_recipes": config.data.synthetic_recipes}


    def builder_name(self, config):
        return "yummly28k" if config.data.dataset == "synthetic" else config.data.dataset

    def vocabulary(self, builder):
        from cmva_keras import datasets

        return datasets.vocabulary(builder)

    def input_shape(self, config):
        return (config.data.crop_size, config.data.crop_size, 3)

    def target_shape(self, vocabulary):
        return (len(vocabulary),)

    def pipeline(self, config, examples, *, training, batch_size, for_evaluation=False, tta=False,
                 num_classes=None):
        from cmva_keras.pipelines import food as food_pipeline

        image_size = config.data.image_size
        image_size = image_size if isinstance(image_size, int) else tuple(image_size)
        # TTA cuts its crops from the largest centre square of the resized image.
        crop = int(min(np.atleast_1d(image_size))) if tta else config.data.crop_size
        return food_pipeline.make_dataset(
            examples, training=training, image_size=image_size, crop_size=crop, num_classes=num_classes,
            batch_size=batch_size, seed=config.seed, deterministic=config.data.deterministic or not training,
            cache=training_cache(config, food_pipeline.PREPARED_VERSION) if training and not for_evaluation else "",
        )

    # ------------------------------------------------------------------ models
    def image_features(self, config, input_shape):
        return build_food_image_features(
            image_size=input_shape[:2], backbone=config.model.backbone,
            backbone_weights=config.model.backbone_weights or None,
            input_normalization=config.model.get("input_normalization", "unit"),
            extra_conv_filters=tuple(config.model.extra_conv_filters),
        )

    def build_cmva(self, config, input_shape, target_shape):
        return build_food_model(
            num_ingredients=target_shape[0], image_size=input_shape[:2], backbone=config.model.backbone,
            backbone_weights=config.model.backbone_weights or None,
            input_normalization=config.model.get("input_normalization", "unit"), latent_dim=config.model.latent_dim,
            extra_conv_filters=tuple(config.model.extra_conv_filters),
            loss_weights=config.model.loss_weights.to_dict(),
            squared_wasserstein=config.model.squared_wasserstein, seed=config.seed,
            inactive_terms_every=config.model.get("inactive_terms_every", 10),
        )

    def build_cmvae(self, config, input_shape, target_shape):
        from cmva_keras.tasks import baselines

        return baselines.build_cmvae(self, config, input_shape, target_shape, target_hidden_units=())

    def build_cadavae(self, config, input_shape, target_shape):
        from cmva_keras.tasks import baselines

        return baselines.build_cadavae(self, config, input_shape, target_shape, target_hidden_units=())

    # ----------------------------------------------------------------- scoring
    def score(self, y, prediction, extras, threshold=0.5):
        from cmva_keras import metrics

        return metrics.ingredient_scores(y, prediction, threshold=threshold)

    def chance(self, y):
        """Each ingredient's frequency in the split, at the threshold with the best F1.

        So, in hindsight, the best constant set of ingredients; it uses the
        evaluated labels, so it is optimistic.
        """
        from cmva_keras.evaluation import calibrate_threshold

        prediction = np.broadcast_to(y.mean(axis=0, keepdims=True), y.shape)
        return prediction, calibrate_threshold(y, prediction, grid=np.unique(np.round(y.mean(axis=0), 4))[:-1])

    # --------------------------------------------------------------------- TTA
    def _crop_offsets(self, images, config):
        height, width = int(images.shape[1]), int(images.shape[2])
        c = min(config.data.crop_size, height, width)
        offsets = [((height - c) // 2, (width - c) // 2), (0, 0), (0, width - c), (height - c, 0),
                   (height - c, width - c)]
        return c, offsets

    def tta_views(self, images, config):
        """Five `crop_size` crops (centre and corners) of the larger test image and their mirrors."""
        import tensorflow as tf

        c, offsets = self._crop_offsets(images, config)
        crops = [images[:, top : top + c, left : left + c, :] for top, left in offsets]
        return [(view, None) for crop in crops for view in (crop, tf.image.flip_left_right(crop))]

    def centre_view(self, images, config):
        c, offsets = self._crop_offsets(images, config)
        top, left = offsets[0]
        return images[:, top : top + c, left : left + c, :]

    # ----------------------------------------------------------------- figures
    def latent_labels(self, y, vocabulary=None):
        """The first of the split's six most frequent ingredients a recipe has, else "none of these"."""
        y = np.asarray(y)
        top = np.argsort(-y.sum(axis=0), kind="stable")[:TOP_INGREDIENTS]
        names = [vocabulary[i] if vocabulary else f"ingredient {i}" for i in top] + ["none of these"]
        present = y[:, top] > 0.5
        index = np.where(present.any(axis=1), np.argmax(present, axis=1), len(top))
        return np.array(names)[index], "most frequent ingredient present"

    # ----------------------------------------------------------------- serving
    def serving_preprocessor(self, data_config):
        from cmva_keras.export import preprocessing

        return lambda images: preprocessing.food_eval_images(
            images, data_config["image_size"], int(data_config["crop_size"])
        )

    def serving_outputs(self, model, data_config=None):
        """`serving_default`/`serving_bytes`: `ingredient_probs` and the 0/1 `ingredients` at the saved threshold."""
        import tensorflow as tf

        threshold = tf.constant(model.threshold, tf.float32)

        def outputs(probabilities):
            return {"ingredient_probs": probabilities, "ingredients": tf.cast(probabilities > threshold, tf.int32)}

        return [("", [], outputs)]


FOOD = FoodTask()
