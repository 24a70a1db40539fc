"""`CMVA`: Cross-modal Variational Alignment of latent spaces (Theodoridis et al., 2020)."""

import math

import keras
from keras import ops

from cmva_keras import losses
from cmva_keras.backend import TrainStepMixin
from cmva_keras.phases import PARTS, TERMS, get_phase

TASKS = ("classification", "regression")
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
class CMVA(TrainStepMixin, keras.Model):
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
    `PhaseSchedule` callback inside `fit`); see `cmva_keras.phases`.

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
        phase: the phase the model starts in.
        threshold: classification only: the probability above which a label is
            predicted (`predict_labels`); stored in a variable, so a threshold
            calibrated on validation data is saved with the model.
    """

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Parts.
        self.source_encoder = source_encoder
        self.source_decoder = source_decoder
        self.target_encoder = target_encoder
        self.target_decoder = target_decoder
        self.mapper = mapper
        # Settings.
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}: CMVA's tasks are {TASKS}.")
        self.task = task
        self.target_shape = tuple(int(s) for s in target_shape)
        self.target_dim = math.prod(self.target_shape)
        unknown = sorted(set(loss_weights or {}) - set(TERMS))
        if unknown:
            raise ValueError(f"Unknown loss weight(s) {unknown}: the terms are {list(TERMS)}.")
        self.loss_weights = {**DEFAULT_LOSS_WEIGHTS, **{k: float(v) for k, v in (loss_weights or {}).items()}}
        self.squared_wasserstein = bool(squared_wasserstein)
        self.wasserstein_eps = float(wasserstein_eps)
        self.seed = seed
        self.inference_path = "mapper"
        self.seed_generator = keras.random.SeedGenerator(seed, name="reparameterisation_seed")
        # State that changes during training lives in non-trainable variables,
        # so that traced steps read its current value and `.keras` files keep it.
        self._phase = int(get_phase(phase).number)
        self.phase_variable = self.add_weight(
            shape=(), dtype="int32", initializer=keras.initializers.Constant(self._phase),
            trainable=False, name="phase",
        )
        self.loss_weight_variables = {
            name: self.add_weight(
                shape=(), initializer="zeros", trainable=False, name=f"weight_{name}"
            )
            for name in TERMS
        }
        self._assign_phase_weights()
        self.threshold_variable = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(float(threshold)),
            trainable=False, name="threshold",
        )
        # One running mean per term, reset by `fit` each epoch.
        self.term_trackers = {name: keras.metrics.Mean(name=name) for name in ("loss",) + TERMS}
        self._source_input_shape = None

    # ------------------------------------------------------------------ build
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

    # ------------------------------------------------------------------ phases
    @property
    def phase(self):
        """The current phase, 1, 2 or 3."""
        return self._phase

    def set_phase(self, phase, reset_optimizer=False):
        """Switches to `phase`: loss weights, trained parts and (optionally) fresh Adam moments.

        For users who write their own loop; inside `fit`, `PhaseSchedule` calls
        this. The phase is read when the training step is traced, so an
        existing train function is rebuilt.
        """
        self._phase = int(get_phase(phase).number)
        self.phase_variable.assign(self._phase)
        self._assign_phase_weights()
        if reset_optimizer:
            self.reset_optimizer_state()
        if getattr(self, "train_function", None) is not None:
            self.make_train_function(force=True)

    def _assign_phase_weights(self):
        active = get_phase(self._phase).active_terms
        for name, variable in self.loss_weight_variables.items():
            variable.assign(self.loss_weights[name] if name in active else 0.0)

    def reset_optimizer_state(self):
        """Zeroes the optimizer's moments and step count (a fresh Adam), keeping its learning rate."""
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None or not optimizer.built:
            return
        learning_rate = getattr(optimizer, "_learning_rate", None)
        for variable in optimizer.variables:
            if variable is not learning_rate:
                variable.assign(ops.zeros(variable.shape, variable.dtype))

    def part(self, name):
        """The part called `name` (one of `cmva_keras.phases.PARTS`)."""
        if name not in PARTS:
            raise ValueError(f"Unknown part {name!r}: the parts are {PARTS}.")
        return getattr(self, name)

    @property
    def phase_trainable_variables(self):
        """Trainable variables of the parts the current phase trains."""
        return [v for name in get_phase(self._phase).trained_parts for v in self.part(name).trainable_variables]

    @property
    def phase_frozen_mask(self):
        """For each of `self.trainable_variables`: True where the current phase freezes it."""
        trained = {id(v) for v in self.phase_trainable_variables}
        return [id(v) not in trained for v in self.trainable_variables]

    def load_own_variables(self, store):
        super().load_own_variables(store)
        # The Python-side phase, read when steps are traced, follows the loaded variable.
        self._phase = int(get_phase(int(ops.convert_to_numpy(self.phase_variable.value))).number)

    # --------------------------------------------------------------- objective
    def _sample(self, mean, log_var, noise=None):
        """Reparameterisation trick: `mean + sigma * eps`, one noise value per dimension.

        `noise` replaces the drawn `eps` when given (same shape as `mean`).
        """
        if noise is None:
            noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        else:
            noise = ops.cast(noise, mean.dtype)
        return mean + ops.exp(0.5 * log_var) * noise

    def _reconstruction(self, targets, outputs):
        if self.task == "classification":
            return losses.binary_crossentropy_from_logits(targets, outputs)
        return losses.mean_squared_error(targets, outputs)

    def _activate(self, outputs):
        """Decoder output to a prediction shaped like the targets."""
        if self.task == "classification":
            outputs = ops.sigmoid(outputs)
        return ops.reshape(outputs, (-1,) + self.target_shape)

    def compute_objective(self, x, y, training=False, noise=None):
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

        Returns:
            `(terms, y_pred)`: `terms` maps "loss" and each of `TERMS` to a
            scalar; `y_pred` is the deterministic mapper-path prediction
            (means only), `(batch,) + target_shape`, for compiled metrics;
            None when the model has none.
        """
        self._check_inputs(x, y)
        phase = get_phase(self._phase)
        trained = set(phase.trained_parts) if training else set()

        def run(name, *args):
            return self.part(name)(*args, training=name in trained)

        noise = noise or {}
        unknown = sorted(set(noise) - set(NOISE_KEYS))
        if unknown:
            raise ValueError(f"Unknown noise key(s) {unknown}: the keys are {NOISE_KEYS}.")

        def frozen_output(name, tensors):
            # Nothing reaches a frozen encoder's weights; skip its backward pass.
            if training and name not in trained:
                return tuple(ops.stop_gradient(t) for t in tensors)
            return tensors

        y_flat = ops.reshape(ops.cast(y, "float32"), (-1, self.target_dim))
        # Upper branch: x -> E1 -> N(mu1, sigma1) -> z1 -> D1.
        mu1, log_var1 = frozen_output("source_encoder", run("source_encoder", x))
        out_1 = run("source_decoder", self._sample(mu1, log_var1, noise.get("z1")))
        # Lower branch: y -> E2 -> N(mu2, sigma2) -> z2 -> D2.
        mu2, log_var2 = frozen_output("target_encoder", run("target_encoder", y_flat))
        out_2 = run("target_decoder", self._sample(mu2, log_var2, noise.get("z2")))
        # Mapper: (mu1, sigma1) -> VE -> z_v -> VD -> N(mu_m, sigma_m) -> z_m -> D2.
        mapper_training = "mapper" in trained
        mu_v, log_var_v = self.mapper.encode(mu1, log_var1, training=mapper_training)
        mu_m, log_var_m = self.mapper.decode(self._sample(mu_v, log_var_v, noise.get("z_v")), training=mapper_training)
        out_m = run("target_decoder", self._sample(mu_m, log_var_m, noise.get("z_m")))

        terms = {
            "rec_1": self._reconstruction(y_flat, out_1),
            "kl_1": losses.kl_to_standard_normal(mu1, log_var1),
            "rec_2": self._reconstruction(y_flat, out_2),
            "kl_2": losses.kl_to_standard_normal(mu2, log_var2),
            "rec_m": self._reconstruction(y_flat, out_m),
            "kl_m": losses.kl_to_standard_normal(mu_v, log_var_v),
            "w2": losses.wasserstein2_diagonal(
                mu_m, log_var_m, mu2, log_var2,
                squared=self.squared_wasserstein, eps=self.wasserstein_eps,
            ),
        }
        total = 0.0
        for name, value in terms.items():
            if training and name not in phase.active_terms:
                value = ops.stop_gradient(value)
            total = total + self.loss_weight_variables[name] * value
        # Deterministic prediction for compiled metrics (if any), reusing mu1: VE and VD means only.
        y_pred = None
        if getattr(self, "_compile_metrics", None) is not None:
            mapped_mean, _ = self.mapper.decode(mu_v, training=False)
            y_pred = self._activate(self.target_decoder(mapped_mean, training=False))
        return {"loss": total, **terms}, y_pred

    # --------------------------------------------------------------- inference
    def call(self, inputs, training=False):
        """Deterministic prediction along `self.inference_path` ("mapper" or "upper")."""
        mu1, log_var1 = self.source_encoder(inputs, training=False)
        if self.inference_path == "upper":
            return self._activate(self.source_decoder(mu1, training=False))
        mapped_mean, _ = self.mapper(mu1, log_var1, training=False)
        return self._activate(self.target_decoder(mapped_mean, training=False))

    def predict(self, x, *args, path="mapper", **kwargs):
        """`keras.Model.predict` along `path`: "mapper" (CMVA) or "upper" (`D1(mu1)`, without mapper).

        Each path keeps its own traced predict function, so alternating paths
        does not trace again.
        """
        if path not in INFERENCE_PATHS:
            raise ValueError(f"Unknown inference path {path!r}: choose one of {INFERENCE_PATHS}.")
        if path == self.inference_path:
            return super().predict(x, *args, **kwargs)
        cache = self.__dict__.setdefault("_predict_functions", {})
        previous = self.inference_path
        cache[previous] = self.predict_function
        self.inference_path, self.predict_function = path, cache.get(path)
        try:
            return super().predict(x, *args, **kwargs)
        finally:
            cache[path] = self.predict_function
            self.inference_path, self.predict_function = previous, cache[previous]

    @property
    def threshold(self):
        """Classification: the decision threshold on probabilities (a float)."""
        return float(ops.convert_to_numpy(self.threshold_variable.value))

    def set_threshold(self, threshold):
        """Sets the decision threshold (e.g. calibrated on validation data); saved with the model."""
        threshold = float(threshold)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"The decision threshold is a probability strictly between 0 and 1; got {threshold}.")
        self.threshold_variable.assign(threshold)

    def predict_labels(self, x, path="mapper", **kwargs):
        """Classification: 0/1 labels, `predict(x, path=...) > threshold`, as int32."""
        if self.task != "classification":
            raise ValueError("predict_labels is for classification models; this one does regression.")
        return (self.predict(x, path=path, **kwargs) > self.threshold).astype("int32")

    def encode(self, x):
        """Latent means for visualisation: E1's `mu1` and the mapper's `mu_m` (deterministic)."""
        mu1, log_var1 = self.source_encoder(x, training=False)
        mapped_mean, _ = self.mapper(mu1, log_var1, training=False)
        return mu1, mapped_mean

    def encode_target(self, y):
        """E2's mean `mu2` for targets `y`."""
        y_flat = ops.reshape(ops.cast(y, "float32"), (-1, self.target_dim))
        mu2, _ = self.target_encoder(y_flat, training=False)
        return mu2

    # ------------------------------------------------------------ fit plumbing
    def compile(self, optimizer=None, loss=None, **kwargs):
        """Like `keras.Model.compile`; the default optimizer is the paper's Adam(1e-4, 0.9, 0.999).

        `loss` must be left out: CMVA's objective is built in (see `loss_weights`).
        """
        if loss is not None:
            raise ValueError(
                "CMVA computes its own objective (eq. 6); do not pass `loss` to compile(). "
                "Set the terms' weights with CMVA(loss_weights={...}) instead."
            )
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.9, beta_2=0.999)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a loaded model with its saved optimizer and metrics."""
        config = dict(keras.saving.deserialize_keras_object(config))
        config.pop("loss", None)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        metrics = list(self.term_trackers.values())
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            metrics.append(compiled)
        return metrics

    def _update_metrics(self, terms, y, y_pred):
        for name, tracker in self.term_trackers.items():
            tracker.update_state(terms[name])
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None and y_pred is not None:
            compiled.update_state(y, y_pred)
        return self.get_metrics_result()

    def _unpack_data(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(
                "CMVA trains and evaluates on (source, target) pairs, but the data gave only "
                f"inputs. Yield `(x, y)` with y of shape (batch,) + {self.target_shape}."
            )
        if sample_weight is not None:
            raise ValueError(
                "CMVA's objective does not take sample weights; yield `(x, y)` pairs only."
            )
        return x, y

    def _prepare_first_batch(self, data):
        """Checks a first batch and builds the model and optimizer, before any step is traced.

        Called by the backend hooks in `cmva_keras/backend/`, so that bad input
        fails before a backend takes the model's state into a traced step.
        """
        x, y = self._unpack_data(data)
        if not self.built:
            self.build(tuple(x.shape))
        self._check_inputs(x, y)
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.trainable_variables)

    def _check_inputs(self, x, y):
        """Static shape and dtype checks, run when a step is traced."""
        for name, tensor in (("source input x", x), ("target y", y)):
            dtype = str(getattr(tensor, "dtype", ""))
            if not any(k in dtype for k in ("float", "int", "bool")):
                raise TypeError(f"CMVA expects a numeric {name}; got dtype {dtype or type(tensor).__name__}.")
        expected = (None,) + self.target_shape
        got = tuple(y.shape)
        if len(got) != len(expected) or any(e is not None and g is not None and e != g for e, g in zip(expected, got)):
            raise ValueError(
                f"CMVA expected targets y of shape {expected} (batch first), got {got}. "
                "Reshape the targets, or build the model with the matching target_shape."
            )
        if self._source_input_shape is not None:
            expected = (None,) + tuple(self._source_input_shape)
            got = tuple(x.shape)
            if len(got) != len(expected) or any(
                e is not None and g is not None and e != g for e, g in zip(expected, got)
            ):
                raise ValueError(
                    f"CMVA expected source inputs x of shape {expected} (batch first), got {got}. "
                    "Resize the inputs in the pipeline, or build a new model for this shape."
                )

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        for name in PARTS:
            config[name] = keras.saving.serialize_keras_object(self.part(name))
        config.update(
            target_shape=list(self.target_shape),
            task=self.task,
            loss_weights=dict(self.loss_weights),
            squared_wasserstein=self.squared_wasserstein,
            wasserstein_eps=self.wasserstein_eps,
            seed=self.seed,
            phase=self._phase,
            threshold=self.threshold,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in PARTS:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
