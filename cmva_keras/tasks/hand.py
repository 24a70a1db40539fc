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
import numpy as np

from cmva_keras import keypoints
from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.models import CMVA
from cmva_keras.tasks.common import image_shape, resolve_backbone, training_cache
from cmva_keras.tasks.task import Task

NUM_KEYPOINTS = keypoints.NUM_KEYPOINTS
POSE_SHAPE = (NUM_KEYPOINTS, 3)

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
    inactive_terms_every=10,
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
        loss_weights, squared_wasserstein, inactive_terms_every: passed to `CMVA`.

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
        inactive_terms_every=inactive_terms_every,
        seed=seed,
        name="cmva_hand",
    )


def side_as_input(data_config):
    """Whether a run's hand model takes the hand side as an input (`data.hand_side_input`, the paper's protocol)."""
    return bool(data_config.get("hand_side_input", False))


def _left(hand_side):
    import tensorflow as tf

    from cmva_keras.pipelines.hand import LEFT

    return tf.equal(tf.cast(tf.reshape(hand_side, [-1]), tf.int32), LEFT)


def mirror_left_images(images, hand_side):
    """Model inputs of a side-taking model: left-hand crops `(B, H, W, 3)` mirrored horizontally (TF).

    `hand_side` is `(B,)`, 0 left, 1 right (the datasets' convention). The
    pipeline does the same to left hands, so the model only sees right ones.
    """
    import tensorflow as tf

    return tf.where(_left(hand_side)[:, None, None, None], tf.image.flip_left_right(images), images)


def unmirror_left_poses(poses, hand_side):
    """Poses `(B, 21, 3)` a side-taking model gave for `mirror_left_images`' inputs, back in the crops' frame."""
    import tensorflow as tf

    sign = tf.where(_left(hand_side), -1.0, 1.0)
    return tf.concat([poses[..., :1] * tf.cast(sign, poses.dtype)[:, None, None], poses[..., 1:]], axis=-1)


SPREAD_QUARTILES = ("1 (curled)", "2", "3", "4 (open)")


class HandTask(Task):
    """3D hand pose from an RGB crop (section 4.2): regression of 21 x 3 keypoints.

    Datasets: the synthetic offline default (RHD's layout), RHD and STB.
    Scores, as ColorHandPose3D computes them: mean EPE in mm, PCK over
    `linspace(0, 50 mm, 20)`, AUC over 20-50 mm and 0-50 mm (predictions and
    targets are scaled back to mm by each example's bone length, `extras["scale"]`).
    TTA: the crop and its vertical mirror (the pose's y axis mirrored back).
    """

    name = "hand"
    problem = "regression"
    config_module = "cmva_keras.configs.hand"
    datasets = ("synthetic", "rhd", "stb")
    primary_metric = "epe_mm"
    higher_is_better = False
    table_metrics = ("epe_mm", "auc_20_50", "auc_0_50")
    paper_table = "Table 3 (mean EPE, mm; RHD / STB)"
    paper_results = {
        "Zimmermann & Brox": {"epe_mm": 30.42},
        "Yang & Yao": {"epe_mm": 19.95},
        "Spurr et al. (CM-VAE)": {"epe_mm": 19.73},
        "CMVA": {"epe_mm": 15.61, "auc_20_50": 0.907},
    }


    # ---------------------------------------------------------------- datasets
    def synthetic_sizes(self, config):
        """Arguments of `cmva_keras.synthetic.ensure_default("hand", ...)` for `config`."""
        return {"num_train": config.data.synthetic_train, "num_eval": config.data.synthetic_eval}


    def builder_name(self, config):
        return "rhd" if config.data.dataset == "synthetic" else config.data.dataset

    def input_shape(self, config):
        return (config.data.image_size, config.data.image_size, 3)

    def target_shape(self, vocabulary):
        return POSE_SHAPE

    def pipeline(self, config, examples, *, training, batch_size, for_evaluation=False, tta=False,
                 num_classes=None):
        from cmva_keras.pipelines import hand as hand_pipeline

        dataset = hand_pipeline.make_dataset(
            examples, training=training, image_size=config.data.image_size, with_metadata=for_evaluation,
            batch_size=batch_size, seed=config.seed, deterministic=config.data.deterministic or not training,
            side_as_input=side_as_input(config.data),
            cache=training_cache(config, hand_pipeline.PREPARED_VERSION) if training and not for_evaluation else "",
        )
        if for_evaluation:
            dataset = dataset.map(lambda image, pose, meta: (image, pose, {"scale": meta["scale"]}))
        return dataset

    # ------------------------------------------------------------------ models
    def image_features(self, config, input_shape):
        return build_hand_image_features(
            image_size=input_shape[:2], backbone=config.model.backbone,
            backbone_weights=config.model.backbone_weights or None,
            input_normalization=config.model.get("input_normalization", "unit"),
        )

    def build_cmva(self, config, input_shape, target_shape):
        return build_hand_model(
            image_size=input_shape[:2], backbone=config.model.backbone,
            backbone_weights=config.model.backbone_weights or None,
            input_normalization=config.model.get("input_normalization", "unit"), latent_dim=config.model.latent_dim,
            hidden_units=tuple(config.model.hidden_units), loss_weights=config.model.loss_weights.to_dict(),
            squared_wasserstein=config.model.squared_wasserstein, seed=config.seed,
            inactive_terms_every=config.model.get("inactive_terms_every", 10),
        )

    def build_cmvae(self, config, input_shape, target_shape):
        from cmva_keras.tasks import baselines

        return baselines.build_cmvae(
            self, config, input_shape, target_shape, target_hidden_units=tuple(config.model.hidden_units)
        )

    def build_cadavae(self, config, input_shape, target_shape):
        from cmva_keras.tasks import baselines

        return baselines.build_cadavae(
            self, config, input_shape, target_shape, target_hidden_units=tuple(config.model.hidden_units)
        )

    # ----------------------------------------------------------------- scoring
    def score(self, y, prediction, extras, threshold=0.5):
        from cmva_keras import metrics

        scale = np.asarray(extras["scale"])[:, None, None]
        return metrics.pose_scores(np.asarray(y) * scale, np.asarray(prediction) * scale)

    # --------------------------------------------------------------------- TTA
    def tta_views(self, images, config):
        """The crop and its vertical mirror; the mirror flips the pose's y axis, undone on the output.

        The pipeline's flip is `F = diag(1, -1, 1)` about the crop centre. A
        vertical mirror turns a right hand into a left one: with the side as
        an input the model sees only right hands, so that view is mirrored
        back horizontally too (`diag(-1, -1, 1)`, a half turn about the
        centre), as the training pipeline does after its flip.
        """
        import tensorflow as tf

        flipped = tf.image.flip_up_down(images)
        if side_as_input(config.data):
            return [(images, None), (tf.image.flip_left_right(flipped), np.array([-1.0, -1.0, 1.0], "float32"))]
        return [(images, None), (flipped, np.array([1.0, -1.0, 1.0], "float32"))]

    # ----------------------------------------------------------------- figures
    def latent_labels(self, y, vocabulary=None):
        """The quartile of the mean palm-root-to-fingertip distance (`keypoints.TIPS`), curled to open."""
        pose = np.asarray(y).reshape(len(y), keypoints.NUM_KEYPOINTS, 3)
        tips, root = pose[:, list(keypoints.TIPS)], pose[:, keypoints.ROOT, None]
        spread = np.linalg.norm(tips - root, axis=-1).mean(axis=1)
        quartile = np.digitize(spread, np.quantile(spread, [0.25, 0.5, 0.75]))
        return np.array(SPREAD_QUARTILES)[quartile], "fingertip spread quartile"

    def write_figures(self, workdir, collected, results, paths):
        """`pck.png` (PCK curves of every path: the paper's Figures 4-5) and `poses.png` (Figure 6)."""
        import os

        from cmva_keras import plots

        written = []
        path = os.path.join(workdir, "pck.png")
        plots.plot_pck_curves(
            {name: (results[name]["thresholds_mm"], results[name]["pck"]) for name in paths},
            path, title="3D PCK",
        )
        written.append(path)
        path = os.path.join(workdir, "poses.png")
        k = min(6, len(collected["images"]))
        plots.plot_pose_grid(
            collected["images"][:k], collected["y"][:k],
            {f"{name} path": collected[name][:k] for name in paths}, path,
        )
        written.append(path)
        return written

    # ----------------------------------------------------------------- serving
    def serving_preprocessor(self, data_config):
        from cmva_keras.export import preprocessing

        return lambda images: preprocessing.hand_eval_images(images, data_config["image_size"])

    def serving_outputs(self, model, data_config=None):
        """`pose_3d` (palm-rooted, bone-normalised); the `_mm` signatures also take `scale_mm` and give mm.

        A model trained with the hand side as an input (`data.hand_side_input`)
        takes `hand_side` (int32, 0 left, 1 right) in every signature: left
        crops are mirrored before the model and their poses mirrored back.
        """
        import tensorflow as tf

        scale_spec = tf.TensorSpec([None], tf.float32, name="scale_mm")

        def in_mm(prediction, scale_mm):
            return prediction * scale_mm[:, tf.newaxis, tf.newaxis]

        if not side_as_input(data_config or {}):
            return [
                ("", [], lambda prediction: {"pose_3d": prediction}),
                ("mm", [scale_spec], lambda prediction, scale_mm: {
                    "pose_3d": prediction, "pose_3d_mm": in_mm(prediction, scale_mm)}),
            ]
        side_spec = tf.TensorSpec([None], tf.int32, name="hand_side")

        def pose(prediction, hand_side):
            return {"pose_3d": unmirror_left_poses(prediction, hand_side)}

        def pose_mm(prediction, hand_side, scale_mm):
            pose_3d = unmirror_left_poses(prediction, hand_side)
            return {"pose_3d": pose_3d, "pose_3d_mm": in_mm(pose_3d, scale_mm)}

        def inputs(images, hand_side, *_):
            return mirror_left_images(images, hand_side)

        return [("", [side_spec], pose, inputs), ("mm", [side_spec, scale_spec], pose_mm, inputs)]


HAND = HandTask()
