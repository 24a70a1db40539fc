"""Loading a run's config and applying command-line overrides.

Configs are code, shipped in the package (`cmva_keras/configs/<task>.py`,
reached through the task: `cmva_keras.tasks.get(task).get_config(variant)`),
or a config file of your own (a `.py` file with `get_config(variant)`), or a
`ConfigDict` you build. They come back locked: a misspelt key is an error,
never a silent new setting.
"""

import ast
import importlib.util
import json
import os

import ml_collections


def load_config(task, variant="default"):
    """The locked config of `task` (a registered task's name, or a path to a config `.py` file) for `variant`.

    Raises:
        ValueError: unknown task or variant, naming the valid ones.
        FileNotFoundError: a config file path that does not exist.
    """
    if isinstance(task, str) and task.endswith(".py"):
        config = _load_file(task, variant)
    else:
        from cmva_keras import tasks

        task_object = tasks.get(task)
        if variant not in task_object.VARIANTS:
            raise ValueError(
                f"Unknown variant {variant!r} for task {task!r}: the variants are {', '.join(task_object.VARIANTS)}."
            )
        config = task_object.get_config(variant)
    config.lock()
    return config


def _load_file(path, variant):
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"Config file {path} not found; pass a .py file with get_config(variant).")
    spec = importlib.util.spec_from_file_location(f"cmva_user_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"Config file {path} has no get_config(variant) function.")
    variants = getattr(module, "VARIANTS", ("default",))
    if variant not in variants:
        raise ValueError(f"Unknown variant {variant!r} in {path}: the variants are {', '.join(variants)}.")
    return module.get_config(variant)


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


def resolve_config(task, variant="default", *, dataset=None, manual_dir=None, data_dir=None, method=None,
                   mapper=None, overrides=()):
    """The run's config: the task's config (or a config file) for `variant`, then the command line's settings.

    `dataset`, `manual_dir`, `data_dir`, `method` and `mapper` are shortcuts
    for the `data.*`, `method` and `mapper` keys; `overrides` are `KEY=VALUE`
    strings (see `apply_overrides`).
    """
    config = load_config(task, variant)
    shortcuts = {"data.dataset": dataset, "data.manual_dir": manual_dir, "data.data_dir": data_dir,
                 "method": method, "mapper": mapper}
    apply_overrides(config, [f"{k}={v}" for k, v in shortcuts.items() if v is not None] + list(overrides))
    check_config(config)
    return config


def default_run_name(config):
    """`<task>-<variant>` for CMVA (the design card's `workdirs/food-default`), `<task>-<method>[-mapper]-<variant>` else."""
    method = config.get("method", "cmva")
    if method == "cmva":
        return f"{config.task}-{config.variant}"
    return f"{config.task}-{method}{'-mapper' if config.get('mapper', False) else ''}-{config.variant}"


def check_config(config):
    """Asks the config's task whether the config can run (dataset, manual_dir, method); raises ValueError."""
    from cmva_keras import tasks
    from cmva_keras.callbacks.input_priority import priority_setting

    priority_setting(config.train)
    tasks.get(config.task).check_config(config)
