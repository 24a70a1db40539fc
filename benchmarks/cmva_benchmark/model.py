"""The benchmark's CMVA, its data and noise, and its weights as plain arrays for the hand-written loops."""

import keras
import numpy as np

import cmva_keras as cm
from cmva_keras.layers import MLP, GaussianEncoder, Mapper

NOISE_KEYS = ("z1", "z2", "z_v", "z_m")


def build_benchmark_cmva(config, phase=3):
    """A built, uncompiled CMVA shaped like the hand task's branches (see `BenchmarkConfig`).

    The weights come from `keras.utils.set_random_seed(config.seed)`, so every
    call gives the same initial weights.
    """
    keras.utils.set_random_seed(config.seed)
    hidden = tuple(config.hidden_units)
    model = cm.CMVA(
        source_encoder=GaussianEncoder(config.latent_dim, hidden_units=hidden),
        source_decoder=MLP(config.target_dim, hidden_units=hidden),
        target_encoder=GaussianEncoder(config.latent_dim, hidden_units=hidden),
        target_decoder=MLP(config.target_dim, hidden_units=hidden),
        mapper=Mapper(config.latent_dim),
        target_shape=(config.target_dim,),
        task="regression",
        seed=config.seed,
        phase=phase,
    )
    model.build((None, config.input_dim))
    return model


def make_adam(config):
    """Keras Adam with the benchmark's settings (the same numbers every hand-written loop uses)."""
    return keras.optimizers.Adam(
        learning_rate=config.learning_rate, beta_1=config.beta_1, beta_2=config.beta_2, epsilon=config.epsilon
    )


def synthetic_batches(config, num_batches=None, seed=None):
    """`num_batches` random `(x, y)` float32 batches, `x: (batch, input_dim)`, `y: (batch, target_dim)`.

    Values are standard normal: the benchmark times steps, the data carry nothing.
    """
    rng = np.random.default_rng(config.seed if seed is None else seed)
    n = config.num_batches if num_batches is None else num_batches
    return [
        (
            rng.standard_normal((config.batch_size, config.input_dim)).astype("float32"),
            rng.standard_normal((config.batch_size, config.target_dim)).astype("float32"),
        )
        for _ in range(n)
    ]


def fixed_noise(config, seed=None):
    """Standard-normal reparameterisation noise for one batch, keyed like `CMVA.compute_objective`'s `noise`.

    Every key is `(batch, latent_dim)` (the benchmark's mapper has
    `intermediate_dim == latent_dim`).
    """
    rng = np.random.default_rng((config.seed if seed is None else seed) + 1)
    return {k: rng.standard_normal((config.batch_size, config.latent_dim)).astype("float32") for k in NOISE_KEYS}


def _dense(layer, relu=False):
    expected = keras.activations.relu if relu else keras.activations.linear
    if layer.activation is not expected:
        raise ValueError(
            f"The hand-written loops need relu hidden layers and linear output layers; "
            f"{layer.name} has activation {layer.activation.__name__}."
        )
    return (
        np.array(keras.ops.convert_to_numpy(layer.kernel)),
        np.array(keras.ops.convert_to_numpy(layer.bias)),
    )


def _gaussian(hidden_layers, head):
    return {
        "hidden": [_dense(layer, relu=True) for layer in hidden_layers],
        "mean": _dense(head.mean_layer),
        "log_var": _dense(head.log_var_layer),
    }


def extract_params(model):
    """The weights of a benchmark CMVA as nested dicts of NumPy `(kernel, bias)` pairs.

    Layout, read by `cmva_benchmark.hand_objective`:
    `{"source_encoder" | "target_encoder": {"hidden": [(W, b), ...], "mean": (W, b), "log_var": (W, b)},
    "source_decoder" | "target_decoder": {"hidden": [...], "output": (W, b)},
    "mapper": {"encoder": <gaussian>, "decoder": <gaussian>}}`; each `W` is
    `(in, out)` like a Keras `Dense` kernel, each `b` is `(out,)`.

    Raises:
        ValueError: for parts the hand-written loops do not implement (a
            backbone, a non-relu activation, a non-regression task).
    """
    if model.task != "regression":
        raise ValueError(f"The hand-written loops implement the regression task; the model's task is {model.task!r}.")
    params = {}
    for name in ("source_encoder", "target_encoder"):
        encoder = model.part(name)
        if not isinstance(encoder, GaussianEncoder) or encoder.backbone is not None:
            raise ValueError(f"{name} must be a GaussianEncoder without a backbone for the hand-written loops.")
        params[name] = _gaussian(encoder.hidden, encoder.head)
    for name in ("source_decoder", "target_decoder"):
        decoder = model.part(name)
        if not isinstance(decoder, MLP):
            raise ValueError(f"{name} must be an MLP for the hand-written loops.")
        params[name] = {
            "hidden": [_dense(layer, relu=True) for layer in decoder.hidden_layers],
            "output": _dense(decoder.output_layer),
        }
    mapper = model.mapper
    if not isinstance(mapper, Mapper):
        raise ValueError("mapper must be a cmva_keras.layers.Mapper for the hand-written loops.")
    params["mapper"] = {
        "encoder": _gaussian(mapper.variational_encoder[:-1], mapper.variational_encoder[-1]),
        "decoder": _gaussian(mapper.variational_decoder[:-1], mapper.variational_decoder[-1]),
    }
    return params


def loss_weights(model):
    """The model's current (phase-masked) loss weights, `{term: float}`."""
    return {
        name: float(keras.ops.convert_to_numpy(model.loss_weight_variables[name].value)) for name in cm.TERMS
    }


def keras_objective(model, x, y, noise):
    """`model.compute_objective` on one batch with fixed noise, as `{"loss" | term: float}`."""
    terms, _ = model.compute_objective(x, y, training=True, noise=noise)
    return {name: float(keras.ops.convert_to_numpy(value)) for name, value in terms.items()}
