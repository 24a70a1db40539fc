"""`StagedModel`: what every cross-modal method here shares (docs/architecture.md, "Staged models").

A method (CMVA, CM-VAE, CADA-VAE, "+ Mapper") is a `StagedModel` subclass
that declares, as class attributes:

- `PARTS`: the names of its replaceable parts (attributes holding layers);
- `TERMS`: the names of its objective terms;
- `PHASES`: `{number: Phase}`, the stages it trains in, numbered from 1;
- `INFERENCE_PATHS`: its prediction paths, the primary one first;
- `DEFAULT_LOSS_WEIGHTS`: the base weight of each term;

and implements `build`, `compute_objective` and `predict_path` (and, for
alignment measurements, `latent_distributions`).

The base class owns the guarantees the tests check for every method:

- **Phases.** The current phase lives in a non-trainable variable (saved in
  `.keras` files, so a resumed run continues in its phase) and in a Python
  attribute read when a step is traced.
- **Loss weights are variables.** One non-trainable `keras.Variable` per term:
  its base weight times a ramp factor (`set_term_factor`, CADA-VAE's warm-ups)
  while the phase optimises the term, else 0.
- **Bit-exact freezing.** The backend steps (`cmva_keras/backend/`)
  differentiate and update only `phase_trainable_variables`; the objective
  runs frozen parts with `training=False`, so BatchNorm statistics stay put.
- **Fresh optimizer moments** at a phase boundary (`reset_optimizer_state`).
- **Fixed noise** on request (`fixed_noise`): the steps then use given
  draws instead of sampling.
- **Logged-only decoder passes, sampled.** A reconstruction term listed in
  `DECODED_TERMS` costs a decoder pass. In a training step whose phase does
  not optimise it (CMVA's `rec_1` and `rec_2` in phase 2, `rec_m` in
  phase 1), the term feeds no gradient and is only logged; its decoder pass
  then runs on the first of every `inactive_terms_every` steps of an epoch
  (`log_flag`), in inference mode, and the term's running mean counts those
  steps only. The epoch's log still has every term, from a sample of its
  batches. Evaluation steps, and `inactive_terms_every=1`, compute every term
  on every batch. This is what makes CMVA's mapper phase cost what a
  hand-written loop costs (docs/benchmarks.md).
"""

import inspect
import math

import keras
from keras import ops

from cmva_keras import losses
from cmva_keras.backend import TrainStepMixin, cond, keras_private
from cmva_keras.callbacks.epoch_logs import epoch_logs_callbacks
from cmva_keras.layers.sublayer import call_part
from cmva_keras.phases import Phase  # noqa: F401  (re-exported: subclasses declare PHASES with it)
from cmva_keras.precision import at_least_float32

TASKS = ("classification", "regression")
_FIT_SIGNATURE = inspect.signature(keras.Model.fit)


def phase_of(model_class, number):
    """`model_class.PHASES[number]`, or a ValueError naming the class's phases."""
    try:
        return model_class.PHASES[int(number)]
    except (KeyError, TypeError, ValueError):
        listed = ", ".join(f"{n} ({p.description})" for n, p in sorted(model_class.PHASES.items()))
        raise ValueError(f"Unknown {model_class.__name__} phase {number!r}: the phases are {listed}.") from None


class StagedModel(TrainStepMixin, keras.Model):
    """Base class of every method: phases, loss-weight variables, freezing, checks, thresholds.

    Args:
        target_shape: shape of one M2 target, e.g. `(265,)` or `(21, 3)`.
        task: `"classification"` (binary cross-entropy from logits) or
            `"regression"` (mean squared error).
        loss_weights: base weights of the terms (missing ones take
            `DEFAULT_LOSS_WEIGHTS`); a phase zeroes the terms it does not optimise.
        seed: seed of the reparameterisation noise (`None`: Keras' global seed).
        phase: the phase the model starts in.
        threshold: classification only: the probability above which a label is
            predicted; a variable, so a calibrated threshold is saved with the model.
    """

    PARTS = ()
    TERMS = ()
    PHASES = {}
    INFERENCE_PATHS = ()
    DEFAULT_LOSS_WEIGHTS = {}
    NOISE_KEYS = ()
    DECODED_TERMS = ()  # reconstruction terms whose decoder pass is skipped when only logged (module doc)
    inactive_terms_every = 1

    def __init__(self, *, target_shape, task="classification", loss_weights=None, seed=None, phase=1,
                 threshold=0.5, **kwargs):
        super().__init__(**kwargs)
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}: {type(self).__name__}'s tasks are {TASKS}.")
        self.task = task
        self.target_shape = tuple(int(s) for s in target_shape)
        self.target_dim = math.prod(self.target_shape)
        unknown = sorted(set(loss_weights or {}) - set(self.TERMS))
        if unknown:
            raise ValueError(
                f"Unknown loss weight(s) {unknown} for {type(self).__name__}: the terms are {list(self.TERMS)}."
            )
        self.loss_weights = {
            **self.DEFAULT_LOSS_WEIGHTS, **{k: float(v) for k, v in (loss_weights or {}).items()}
        }
        self.seed = seed
        self.inference_path = self.INFERENCE_PATHS[0]
        self.seed_generator = keras.random.SeedGenerator(seed, name="reparameterisation_seed")
        # State that changes during training lives in non-trainable variables,
        # so that traced steps read its current value and `.keras` files keep it.
        self._phase = phase_of(type(self), phase).number
        self._term_factors = {name: 1.0 for name in self.TERMS}
        self.phase_variable = self.add_weight(
            shape=(), dtype="int32", initializer=keras.initializers.Constant(self._phase),
            trainable=False, name="phase",
        )
        self.loss_weight_variables = {
            name: self.add_weight(shape=(), initializer="zeros", trainable=False, name=f"weight_{name}")
            for name in self.TERMS
        }
        self._assign_phase_weights()
        self.threshold_variable = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(float(threshold)),
            trainable=False, name="threshold",
        )
        # One running mean per term, reset by `fit` each epoch.
        self.term_trackers = {name: keras.metrics.Mean(name=name) for name in ("loss",) + self.TERMS}
        self._source_input_shape = None

    # ------------------------------------------------------------------ phases
    @property
    def phase(self):
        """The current phase number."""
        return self._phase

    @property
    def current_phase(self):
        """The current `Phase`."""
        return phase_of(type(self), self._phase)

    def set_phase(self, phase, reset_optimizer=False):
        """Switches to `phase`: loss weights, trained parts and (optionally) fresh Adam moments.

        For users who write their own loop; inside `fit`, `PhaseSchedule` calls
        this. The phase is read when the training step is traced, so an
        existing train function is rebuilt.
        """
        self._phase = phase_of(type(self), phase).number
        self.phase_variable.assign(self._phase)
        self._assign_phase_weights()
        if reset_optimizer:
            self.reset_optimizer_state()
        if getattr(self, "train_function", None) is not None:
            self.make_train_function(force=True)

    def set_term_factor(self, name, factor):
        """Multiplies term `name`'s base weight by `factor` (a warm-up ramp; 1 by default)."""
        if name not in self.TERMS:
            raise ValueError(f"Unknown term {name!r} for {type(self).__name__}: the terms are {list(self.TERMS)}.")
        self._term_factors[name] = float(factor)
        self._assign_phase_weights()

    def _assign_phase_weights(self):
        active = self.current_phase.active_terms
        for name, variable in self.loss_weight_variables.items():
            weight = self.loss_weights[name] * self._term_factors[name] if name in active else 0.0
            variable.assign(weight)

    def reset_optimizer_state(self):
        """Zeroes the optimizer's moments and step count (a fresh Adam), keeping its learning rate.

        A `LossScaleOptimizer` (mixed_float16) gets its initial loss scale
        back, as a fresh one would have (a zero scale would zero every gradient).
        """
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None or not optimizer.built:
            return
        learning_rate = keras_private.learning_rate_variable(optimizer)
        loss_scale, initial_scale = keras_private.loss_scale_variable(optimizer) or (None, None)
        for variable in optimizer.variables:
            if variable is loss_scale:
                variable.assign(ops.full(variable.shape, initial_scale, variable.dtype))
            elif variable is not learning_rate:
                variable.assign(ops.zeros(variable.shape, variable.dtype))

    def part(self, name):
        """The part called `name` (one of `PARTS`)."""
        if name not in self.PARTS:
            raise ValueError(f"Unknown part {name!r}: {type(self).__name__}'s parts are {self.PARTS}.")
        return getattr(self, name)

    @property
    def phase_trainable_variables(self):
        """Trainable variables of the parts the current phase trains."""
        return [v for name in self.current_phase.trained_parts for v in self.part(name).trainable_variables]

    @property
    def phase_frozen_mask(self):
        """For each of `self.trainable_variables`: True where the current phase freezes it."""
        trained = {id(v) for v in self.phase_trainable_variables}
        return [id(v) not in trained for v in self.trainable_variables]

    def load_own_variables(self, store):
        super().load_own_variables(store)
        # The Python-side phase, read when steps are traced, follows the loaded variable. Read through
        # the variable, not `.value`: inside a tf.distribute scope `.value` is a MirroredVariable,
        # which NumPy cannot convert ("object __array__ method not producing an array").
        self._phase = phase_of(type(self), int(ops.convert_to_numpy(self.phase_variable))).number

    # ------------------------------------------------------- objective helpers
    def _runner(self, training):
        """`run(name, *args)`: calls a part in training mode only if the phase trains it."""
        trained = set(self.current_phase.trained_parts) if training else set()

        def run(name, *args):
            return call_part(self.part(name), *args, training=name in trained)

        return run, trained

    def _frozen(self, name, trained, training, tensors):
        """Cuts the gradient to a frozen part's outputs (skips its backward pass)."""
        if training and name not in trained:
            return tuple(ops.stop_gradient(t) for t in tensors)
        return tensors

    @property
    def fixed_noise(self):
        """None, or a dict of standard-normal draws keyed by `NOISE_KEYS` that replaces sampling.

        When set, every `compute_objective` call whose `noise` argument is None
        uses it, the training and evaluation steps' included, so that a step
        is a deterministic function of the weights and the batch (used to
        compare backends). Each value is shaped `(batch, latent size)` for the
        batches it is used with. Not saved in `get_config` or `.keras` files.

        The values are read when a step is traced: set it before the first
        step, or call `make_train_function(force=True)` (and likewise for the
        test function) after changing it. Unknown keys are refused.
        """
        return self._fixed_noise

    @fixed_noise.setter
    def fixed_noise(self, noise):
        self._fixed_noise = None if noise is None else dict(self._check_noise(noise))

    _fixed_noise = None

    def _check_noise(self, noise):
        """`noise`, else `fixed_noise`, else `{}`; a ValueError for keys not in `NOISE_KEYS`."""
        if noise is None:
            noise = self._fixed_noise
        noise = noise or {}
        unknown = sorted(set(noise) - set(self.NOISE_KEYS))
        if unknown:
            raise ValueError(f"Unknown noise key(s) {unknown}: the keys are {self.NOISE_KEYS}.")
        return noise

    def _sample(self, mean, log_var, noise=None):
        """Reparameterisation trick: `mean + sigma * eps`, one noise value per dimension.

        `noise` replaces the drawn `eps` when given (same shape as `mean`).
        The draw is `keras.random.normal`'s with the model's seed generator
        (on PyTorch without Keras' per-call bookkeeping, the same values:
        `keras_private.seeded_normal`).
        """
        if noise is None:
            noise = keras_private.seeded_normal(ops.shape(mean), mean.dtype, self.seed_generator)
        else:
            noise = ops.cast(noise, mean.dtype)
        return mean + ops.exp(0.5 * log_var) * noise

    def _reconstruction(self, targets, outputs):
        """The task loss: BCE from logits (classification) or MSE (regression), batch mean."""
        if self.task == "classification":
            return losses.binary_crossentropy_from_logits(targets, outputs)
        return losses.mean_squared_error(targets, outputs)

    def skipped_terms(self, training=True):
        """The `DECODED_TERMS` a training step of the current phase only logs (computed on `log_flag` steps)."""
        if not training or self.inactive_terms_every <= 1:
            return ()
        active = self.current_phase.active_terms
        return tuple(name for name in self.DECODED_TERMS if name not in active)

    def log_flag(self, steps_this_epoch):
        """Whether a training step computes the phase's `skipped_terms`: Python True, or a boolean tensor.

        `steps_this_epoch` is the number of training steps already taken in
        the epoch (the loss tracker's count; a tensor inside traced steps):
        the first of every `inactive_terms_every` steps computes them.
        """
        if not self.skipped_terms():
            return True
        steps = ops.cast(steps_this_epoch, "int32")
        return ops.equal(ops.mod(steps, self.inactive_terms_every), 0)

    @property
    def steps_tracker(self):
        """The running mean whose count is the number of steps taken this epoch (the loss's)."""
        return self.term_trackers["loss"]

    def _logged_reconstruction(self, name, targets, decode, z, log_flag, training):
        """Term `name`, the task loss of `decode(z, training)`, or its log-only sampled form (module doc).

        `decode(z, training)` runs the decoder part. Where the term is one of
        `skipped_terms` and `log_flag` is not the constant True, the pass
        runs in inference mode on flagged steps and the term is 0 on others
        (it has weight 0 in this phase, and its tracker does not count them).
        """
        if log_flag is True or name not in self.skipped_terms(training):
            return self._reconstruction(targets, decode(z, training))
        return cond(
            log_flag,
            lambda: self._reconstruction(targets, decode(z, False)),
            lambda: ops.zeros((), "float32"),
        )

    def _flat_targets(self, y):
        return ops.reshape(ops.cast(y, "float32"), (-1, self.target_dim))

    def _activate(self, outputs):
        """Decoder output to a prediction shaped like the targets (at least float32, under any dtype policy)."""
        outputs = at_least_float32(outputs)
        if self.task == "classification":
            outputs = ops.sigmoid(outputs)
        return ops.reshape(outputs, (-1,) + self.target_shape)

    def _weighted_total(self, terms, training):
        """Eq. (6)'s weighted sum; terms the phase does not optimise are cut from the gradient."""
        active = self.current_phase.active_terms
        total = 0.0
        for name, value in terms.items():
            if training and name not in active:
                value = ops.stop_gradient(value)
            total = total + self.loss_weight_variables[name] * value
        return total

    def _metrics_prediction(self, predict):
        """`predict()` (the primary path) when compiled metrics need it, else None."""
        if keras_private.compiled_metrics(self) is None:
            return None
        return predict()

    def compute_objective(self, x, y, training=False, noise=None, log_flag=True):
        """`({"loss": total, term: value, ...}, y_pred or None)`: the subclass's objective.

        `log_flag` (from `log_flag(...)`) matters only to a subclass with
        `DECODED_TERMS`; the others compute every term and ignore it.
        """
        raise NotImplementedError

    def predict_path(self, x, path):
        """Deterministic prediction (means only) along `path`, shaped `(batch,) + target_shape`."""
        raise NotImplementedError

    def latent_distributions(self, x, y):
        """`{"source": (mean, log_var), "target": ..., ["mapped": ...]}`: the Gaussians alignment is measured on.

        "source" is the image side's own Gaussian, "target" the target
        encoder's, and "mapped" (methods with a mapper) the mapper's output.
        """
        raise NotImplementedError

    # --------------------------------------------------------------- inference
    def call(self, inputs, training=False):
        """Deterministic prediction along `self.inference_path`."""
        return self.predict_path(inputs, self.inference_path)

    def predict(self, x, *args, path=None, **kwargs):
        """`keras.Model.predict` along `path` (one of `INFERENCE_PATHS`; default the primary one).

        Each path keeps its own traced predict function, so alternating paths
        does not trace again.
        """
        path = path or self.INFERENCE_PATHS[0]
        if path not in self.INFERENCE_PATHS:
            raise ValueError(
                f"Unknown inference path {path!r} for {type(self).__name__}: choose one of {self.INFERENCE_PATHS}."
            )
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
        return float(ops.convert_to_numpy(self.threshold_variable))  # not `.value`: see load_own_variables

    def set_threshold(self, threshold):
        """Sets the decision threshold (e.g. calibrated on validation data); saved with the model."""
        threshold = float(threshold)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"The decision threshold is a probability strictly between 0 and 1; got {threshold}.")
        self.threshold_variable.assign(threshold)

    def predict_labels(self, x, path=None, **kwargs):
        """Classification: 0/1 labels, `predict(x, path=...) > threshold`, as int32."""
        if self.task != "classification":
            raise ValueError("predict_labels is for classification models; this one does regression.")
        return (self.predict(x, path=path, **kwargs) > self.threshold).astype("int32")

    # ------------------------------------------------------------ fit plumbing
    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, without the per-step logs hand-over where nothing reads it.

        With `verbose=0` and no callback overriding a training batch-end hook,
        the callbacks go to `fit` as an `EpochLogsCallbackList`: the same
        callbacks, `History` and `params`, minus the per-step conversion of
        the logs to Python numbers on a thread of Keras' own
        (`cmva_keras/callbacks/epoch_logs.py`); while it runs,
        `batch_logs_unread` is True. Any other `fit` is Keras' as is.
        """
        arguments = _FIT_SIGNATURE.bind(self, *args, **kwargs)
        arguments.apply_defaults()
        given = arguments.arguments
        lean = epoch_logs_callbacks(
            self, given["callbacks"], verbose=given["verbose"], epochs=given["epochs"], x=given["x"],
            batch_size=given["batch_size"], steps_per_epoch=given["steps_per_epoch"],
            validation_split=given["validation_split"])
        if lean is not None:
            given["callbacks"] = lean
        del given["self"]
        self.batch_logs_unread = lean is not None
        try:
            return super().fit(**given)
        finally:
            self.batch_logs_unread = False

    batch_logs_unread = False
    """True while a `fit` runs whose training batch logs nobody reads (an `EpochLogsCallbackList`): a backend
    step may then return cheaper per-step logs with the same keys (`_update_metrics`'s `step_logs`)."""

    def compile(self, optimizer=None, loss=None, **kwargs):
        """Like `keras.Model.compile`; the default optimizer is the paper's Adam(1e-4, 0.9, 0.999).

        `loss` must be left out: the objective is built in (see `loss_weights`).
        """
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own objective; do not pass `loss` to compile(). "
                f"Set the terms' weights with {type(self).__name__}(loss_weights={{...}}) instead."
            )
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.9, beta_2=0.999)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a loaded model with its saved optimizer and metrics.

        An optimizer saved under a backend-specific class (PyTorch's, in Keras
        3.15) loads as the public `keras.optimizers` class of the same name,
        so a file saved under one backend trains under another.
        """
        config = dict(config)
        if isinstance(config.get("optimizer"), dict):
            # Keras 3.15 saves a torch-backend optimizer under its torch class; load the public one.
            config["optimizer"] = keras_private.portable_optimizer_config(config["optimizer"])
        config = dict(keras.saving.deserialize_keras_object(config))
        config.pop("loss", None)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        metrics = list(self.term_trackers.values())
        compiled = keras_private.compiled_metrics(self)
        if compiled is not None:
            metrics.append(compiled)
        return metrics

    def _update_metrics(self, terms, y, y_pred, log_flag=True, accumulate=None, step_logs=False):
        """Updates the term trackers and compiled metrics; a `skipped_terms` term counts `log_flag` steps only.

        Returns the step's logs: the running means (`get_metrics_result`).
        `accumulate(tracker, value, sample_weight)`: a backend's own form of
        `Mean.update_state` for one scalar (PyTorch's, `torch_step`); None:
        Keras'. `step_logs`: return the step's own terms instead of the
        running means, for a `fit` whose batch logs nobody reads
        (`batch_logs_unread`), where the two have the same keys (no compiled
        metrics); `fit` takes the epoch's logs from the trackers.
        """
        skipped = () if log_flag is True else self.skipped_terms()
        for name, tracker in self.term_trackers.items():
            weight = ops.cast(log_flag, "float32") if name in skipped else None
            if accumulate is None:
                tracker.update_state(terms[name], sample_weight=weight)
            else:
                accumulate(tracker, terms[name], weight)
        compiled = keras_private.compiled_metrics(self)
        if compiled is not None and y_pred is not None:
            compiled.update_state(y, y_pred)
        if step_logs and compiled is None:
            return {name: terms[name] for name in self.term_trackers}
        return self.get_metrics_result()

    def _unpack_data(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        name = type(self).__name__
        if y is None:
            raise ValueError(
                f"{name} trains and evaluates on (source, target) pairs, but the data gave only "
                f"inputs. Yield `(x, y)` with y of shape (batch,) + {self.target_shape}."
            )
        if sample_weight is not None:
            raise ValueError(f"{name}'s objective does not take sample weights; yield `(x, y)` pairs only.")
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
        name = type(self).__name__
        for what, tensor in (("source input x", x), ("target y", y)):
            dtype = str(getattr(tensor, "dtype", ""))
            if not any(k in dtype for k in ("float", "int", "bool")):
                raise TypeError(f"{name} expects a numeric {what}; got dtype {dtype or type(tensor).__name__}.")
        for what, tensor, shape, fix in (
            ("targets y", y, self.target_shape, "Reshape the targets, or build the model with the matching target_shape."),
            ("source inputs x", x, self._source_input_shape,
             "Resize the inputs in the pipeline, or build a new model for this shape."),
        ):
            if shape is None:
                continue
            expected, got = (None,) + tuple(shape), tuple(tensor.shape)
            if len(got) != len(expected) or any(
                e is not None and g is not None and e != g for e, g in zip(expected, got)
            ):
                raise ValueError(f"{name} expected {what} of shape {expected} (batch first), got {got}. {fix}")

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        for name in self.PARTS:
            config[name] = keras.saving.serialize_keras_object(self.part(name))
        config.update(
            target_shape=list(self.target_shape),
            task=self.task,
            loss_weights=dict(self.loss_weights),
            seed=self.seed,
            phase=self._phase,
            threshold=self.threshold,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls.PARTS:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
