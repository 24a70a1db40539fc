"""Tasks: one `Task` object per task, and the registry that training, evaluation and export ask.

- `food` (`FoodTask`): food image -> multi-hot ingredients (section 4.1);
  `build_food_model` builds its CMVA.
- `hand` (`HandTask`): RGB hand crop -> 21 x 3 hand pose (section 4.2);
  `build_hand_model` builds its CMVA.

`register(task)` adds a task of your own (a `Task` subclass instance), `get(name)`
returns one, `names()` lists them.
"""

from cmva_keras.tasks import food, hand
from cmva_keras.tasks.food import FOOD, FoodTask, build_food_image_features, build_food_model
from cmva_keras.tasks.hand import HAND, HandTask, build_hand_image_features, build_hand_model
from cmva_keras.tasks.task import METHOD_NAMES, METHODS, Task

_REGISTRY = {}


def register(task, replace=False):
    """Adds `task` (a `Task` instance) under `task.name`; returns it.

    Raises:
        TypeError: `task` is not a `Task` instance.
        ValueError: the name is empty, or taken (unless `replace`).
    """
    if not isinstance(task, Task):
        raise TypeError(f"register() takes a cmva_keras.tasks.Task instance; got {type(task).__name__}.")
    if not task.name or not isinstance(task.name, str):
        raise ValueError(f"{type(task).__name__} needs a `name` (a non-empty string) to be registered.")
    if task.name in _REGISTRY and not replace:
        raise ValueError(f"A task named {task.name!r} is already registered; pass replace=True to replace it.")
    _REGISTRY[task.name] = task
    return task


def get(name):
    """The registered task `name`, or a ValueError listing the registered ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown task {name!r}: the tasks are {', '.join(names())}. "
            "Register your own with cmva_keras.tasks.register(MyTask())."
        ) from None


def names():
    """The registered tasks' names, in registration order."""
    return tuple(_REGISTRY)


register(FOOD)
register(HAND)

__all__ = [
    "FOOD",
    "HAND",
    "METHODS",
    "METHOD_NAMES",
    "FoodTask",
    "HandTask",
    "Task",
    "build_food_image_features",
    "build_food_model",
    "build_hand_image_features",
    "build_hand_model",
    "food",
    "get",
    "hand",
    "names",
    "register",
]
