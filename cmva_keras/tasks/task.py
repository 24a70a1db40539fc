"""`Task`: one object per task that owns everything specific to it (docs/architecture.md, "Tasks").

Training setup, evaluation, comparison and export never branch on a task's
name: they ask `cmva_keras.tasks.get(config.task)`. A task is:

- its name, its problem type and its datasets (the synthetic offline default
  first), with the synthetic generator;
- its config (`get_config(variant)`, `VARIANTS`);
- its input pipeline for a split;
- its model builders, one per method (`build_model` dispatches on
  `config.method`);
- its scoring, primary metric and chance reference;
- its test-time augmentation views;
- what colours its t-SNE figure and its extra figures;
- its serving preprocessing and outputs.

A user adds a task from their own code: subclass `Task`, implement the
methods that raise `NotImplementedError`, and `cmva_keras.tasks.register` an
instance (README, "Your own task").
"""

import importlib

import numpy as np

METHODS = ("cmva", "cmvae", "cadavae")
METHOD_NAMES = {"cmva": "CMVA", "cmvae": "CM-VAE", "cadavae": "CADA-VAE"}


class Task:
    """Base class of a task. Class attributes:

    - `name`: the task's name (`--task`).
    - `problem`: "classification" (multi-label, BCE) or "regression" (MSE).
    - `datasets`: dataset names, "synthetic" (the offline default) first.
    - `config_module`: the module with `get_config(variant)` and `VARIANTS`
      (or override `get_config` and set `VARIANTS`).
    - `primary_metric`, `higher_is_better`: the metric a comparison ranks by.
    - `table_metrics`: the metrics evaluation prints, in order.
    - `paper_results`: `{row name: {metric: value}}`, the paper's numbers for
      the comparison table (its Table 1 or 3), on the paper's datasets.
    """

    name = None
    problem = None
    datasets = ("synthetic",)
    config_module = None  # the module holding get_config and VARIANTS, e.g. "cmva_keras.configs.food"
    primary_metric = None
    higher_is_better = True
    table_metrics = ()
    paper_results = {}
    paper_table = ""

    # ------------------------------------------------------------------ config
    @property
    def VARIANTS(self):  # noqa: N802  (the config module's constant)
        """The config variants: `config_module`'s `VARIANTS`, else just "default"."""
        if self.config_module is None:
            return ("default",)
        return importlib.import_module(self.config_module).VARIANTS

    def get_config(self, variant="default"):
        """The task's `ml_collections.ConfigDict` for `variant`: `config_module.get_config(variant)`."""
        if self.config_module is None:
            raise NotImplementedError(f"{type(self).__name__} sets no config_module; override get_config.")
        return importlib.import_module(self.config_module).get_config(variant)

    def check_config(self, config):
        """Raises a ValueError naming the fix when `config` cannot run for this task."""
        name = config.data.dataset
        if name not in self.datasets:
            raise ValueError(
                f"Unknown dataset {name!r} for task {self.name!r}: choose one of {', '.join(self.datasets)}."
            )
        if name != "synthetic" and not config.data.manual_dir:
            raise ValueError(
                f"Dataset {name!r} is read from the folder you downloaded it to: pass --manual_dir "
                f"(or --set data.manual_dir=PATH). `python -c \"import cmva_keras, tensorflow_datasets as tfds; "
                f"print(tfds.builder('{name}').MANUAL_DOWNLOAD_INSTRUCTIONS)\"` shows the expected layout."
            )
        method = config.get("method", "cmva")
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)} (--method).")
        if config.get("mapper", False) and method == "cmva":
            raise ValueError(
                "--mapper adds a mapper to a baseline; CMVA has its mapper built in. "
                "Drop --mapper, or choose --method cmvae or cadavae."
            )

    # ---------------------------------------------------------------- datasets
    def synthetic_sizes(self, config):
        """Arguments of `cmva_keras.synthetic.ensure_default(name, ...)` for `config`."""
        raise NotImplementedError

    def synthetic_manual_dir(self, config):
        """Generates (once) the offline synthetic set for `config` and returns its folder."""
        from cmva_keras import synthetic

        return synthetic.ensure_default(self.name, **self.synthetic_sizes(config))

    def builder_name(self, config):
        """The TFDS builder that reads `config`'s dataset (the synthetic set's native format's)."""
        return config.data.dataset

    def open_source(self, config):
        """What the splits are read from; by default the dataset's TFDS builder, prepared once.

        A task whose data is not a TFDS dataset returns anything here that its
        `examples` and `vocabulary` understand.
        """
        from cmva_keras.training.setup import open_dataset

        return open_dataset(config)

    def examples(self, source, split, shuffle_files=False):
        """One split of `source` as a `tf.data.Dataset` of examples, before the pipeline."""
        from cmva_keras import datasets

        return datasets.as_dataset(source, split, shuffle_files=shuffle_files)

    def vocabulary(self, source):
        """Label names in output order (classification), or None."""
        return None

    def pipeline(self, config, examples, *, training, batch_size, for_evaluation=False, tta=False):
        """The `tf.data` pipeline over a split's examples.

        Training yields `(image, target)` batches; evaluation
        (`for_evaluation`) yields `(image, target, extras)` where `extras` is
        a dict of per-example arrays that scoring needs (see `score`). With
        `tta`, the images are what `tta_views` cuts its views from.
        """
        raise NotImplementedError

    def input_shape(self, config):
        """One model input's shape, `(H, W, 3)`."""
        raise NotImplementedError

    def target_shape(self, vocabulary):
        """One target's shape."""
        raise NotImplementedError

    # ------------------------------------------------------------------ models
    def image_features(self, config, input_shape):
        """The image side's feature extractor: images `(batch, H, W, 3)` in 0..255 -> `(batch, F)`."""
        raise NotImplementedError

    def build_model(self, config, input_shape, target_shape):
        """The model of `config.method` for this task (unbuilt)."""
        method = config.get("method", "cmva")
        builder = getattr(self, f"build_{method}", None)
        if method not in METHODS or builder is None:
            raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
        return builder(config, input_shape, target_shape)

    def build_cmva(self, config, input_shape, target_shape):
        raise NotImplementedError

    def build_cmvae(self, config, input_shape, target_shape):
        raise NotImplementedError

    def build_cadavae(self, config, input_shape, target_shape):
        raise NotImplementedError

    # ----------------------------------------------------------------- scoring
    def score(self, y, prediction, extras, threshold=0.5):
        """`{metric: value}` of predictions against targets (NumPy)."""
        raise NotImplementedError

    def chance(self, y):
        """`(prediction, threshold or None)`: the best input-independent prediction, a chance reference."""
        return np.broadcast_to(y.mean(axis=0, keepdims=True), y.shape), None

    # --------------------------------------------------------------------- TTA
    def tta_views(self, images, config):
        """`[(view, undo)]`: test-time views of a batch; `undo` multiplies a view's prediction, or is None."""
        return [(images, None)]

    def centre_view(self, images, config):
        """The plain test view of a batch that `pipeline(..., tta=True)` gave."""
        return images

    # ----------------------------------------------------------------- figures
    def latent_labels(self, y, vocabulary=None):
        """`(labels (N,) strings, legend title)`: what colours the t-SNE figure."""
        return np.array(["all"] * len(y)), "examples"

    def write_figures(self, workdir, collected, results, paths):
        """Task-specific figures beyond the t-SNE; returns their paths."""
        return []

    # ----------------------------------------------------------------- serving
    def serving_preprocessor(self, data_config):
        """`images uint8 (B, H, W, 3) -> model inputs float32`: the test pipeline's transform, in TF."""
        raise NotImplementedError

    def serving_outputs(self, model, data_config=None):
        """`[(signature suffix, extra input specs, fn(predictions, *extra inputs) -> dict[, inputs])]` for export.

        The optional fourth item, `inputs(images, *extra inputs) -> images`,
        changes the preprocessed images before the model (e.g. the hand
        task's mirroring of left hands). `data_config` is the run's `data`
        block. At most two extra inputs per signature.
        """
        raise NotImplementedError
