"""Loading the task configs in `configs/` and applying command-line overrides.

Configs are code (`configs/<task>.py` with `get_config(variant)`), returned as
locked `ml_collections.ConfigDict`s: a misspelt key is an error, never a silent
new setting.
"""

import ast
import importlib.util
import json
import os

import ml_collections

TASKS = ("food", "hand")
# The datasets of each task: "synthetic" is the offline default, generated locally.
DATASETS = {"food": ("synthetic", "yummly28k", "recipe1m"), "hand": ("synthetic", "rhd", "stb")}


def config_dir():
    """The `configs/` folder: `$CMVA_CONFIG_DIR`, else the one beside the package (source checkout)."""
    return os.environ.get("CMVA_CONFIG_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "configs")


def load_config(task, variant="default"):
    """`configs/<task>.py:get_config(variant)`, locked.

    Raises:
        ValueError: unknown task or variant, naming the valid ones.
        FileNotFoundError: no configs folder (a non-editable install without
            `CMVA_CONFIG_DIR`).
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}: the tasks are {', '.join(TASKS)}.")
    path = os.path.abspath(os.path.join(config_dir(), f"{task}.py"))
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Config file {path} not found. Run from a source checkout of cmva-keras, or set "
            "CMVA_CONFIG_DIR to the folder holding food.py and hand.py."
        )
    spec = importlib.util.spec_from_file_location(f"cmva_configs_{task}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    variants = getattr(module, "VARIANTS", ("default",))
    if variant not in variants:
        raise ValueError(f"Unknown variant {variant!r} for task {task!r}: the variants are {', '.join(variants)}.")
    config = module.get_config(variant)
    config.lock()
    return config


def flat_keys(config, prefix=""):
    """All leaf keys of `config`, dotted."""
    keys = []
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            keys.extend(flat_keys(value, f"{prefix}{key}."))
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _parse(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string such as a path or a name


def apply_overrides(config, overrides):
    """Applies `KEY=VALUE` strings (dotted keys, Python literals) to `config` in place.

    Raises:
        ValueError: a malformed override, an unknown key (listing the valid
            ones) or a value of the wrong type.
    """
    valid = flat_keys(config)
    for override in overrides:
        if "=" not in override:
            raise ValueError(f"Config override {override!r} is not KEY=VALUE (e.g. train.batch_size=16).")
        key, text = override.split("=", 1)
        key = key.strip()
        if key not in valid:
            raise ValueError(f"Unknown config key {key!r}. Valid keys: {', '.join(valid)}.")
        *parents, leaf = key.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        value = _parse(text)
        current = node[leaf]
        if isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if current is not None and value is not None and not isinstance(value, type(current)):
            raise ValueError(
                f"Config key {key!r} holds a {type(current).__name__} ({current!r}); got {value!r}."
            )
        try:
            node[leaf] = value
        except TypeError as error:
            raise ValueError(f"Config key {key!r}: {error}") from None
    return config


def to_json(config):
    """The resolved config as JSON text."""
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)


def resolve_config(task, variant="default", *, dataset=None, manual_dir=None, data_dir=None, overrides=()):
    """The run's config: `configs/<task>.py` for `variant`, then the command line's settings.

    `dataset`, `manual_dir` and `data_dir` are shortcuts for the `data.*` keys;
    `overrides` are `KEY=VALUE` strings (see `apply_overrides`).
    """
    config = load_config(task, variant)
    shortcuts = {"data.dataset": dataset, "data.manual_dir": manual_dir, "data.data_dir": data_dir}
    apply_overrides(config, [f"{k}={v}" for k, v in shortcuts.items() if v] + list(overrides))
    check_dataset(config)
    return config


def check_dataset(config):
    """A known dataset for the task, and a `manual_dir` for a real one."""
    task, name = config.task, config.data.dataset
    if name not in DATASETS[task]:
        raise ValueError(f"Unknown dataset {name!r} for task {task!r}: choose one of {', '.join(DATASETS[task])}.")
    if name != "synthetic" and not config.data.manual_dir:
        raise ValueError(
            f"Dataset {name!r} is read from the folder you downloaded it to: pass --manual_dir "
            f"(or --set data.manual_dir=PATH). `python -c \"import cmva_keras, tensorflow_datasets as tfds; "
            f"print(tfds.builder('{name}').MANUAL_DOWNLOAD_INSTRUCTIONS)\"` shows the expected layout."
        )
