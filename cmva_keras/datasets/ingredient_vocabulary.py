"""Yummly-28K's ingredient vocabulary: frequent names of the training split.

The vocabulary is counted on the training split only (a test recipe never
decides which classes exist) and stored with the prepared dataset as the
`ClassLabel` names of the `ingredients` feature.

Rule: a name is kept if at least `min_count` training recipes mention it, with
`min_count = max(2, ceil(min_fraction * num_train_recipes))`. The default
`min_fraction = 0.002` (47 recipes out of Yummly-28K's 23,493 training
recipes) is the project's estimate of the threshold that leaves about the
paper's 265 ingredients after grouping; it is a builder argument
(`Yummly28k(min_fraction=...)`).
"""

import collections
import math

DEFAULT_MIN_FRACTION = 0.002


def min_count_for(num_train_recipes, min_fraction=DEFAULT_MIN_FRACTION):
    """The minimum number of training recipes that must mention a kept name."""
    return max(2, math.ceil(min_fraction * num_train_recipes))


def build_vocabulary(train_recipes, min_count):
    """Sorted ingredient names mentioned by at least `min_count` training recipes.

    Args:
        train_recipes: iterable of per-recipe name collections (each recipe
            counts once per name).
        min_count: the frequency threshold.

    Returns:
        list of names, alphabetical (stable across runs and Python versions).
    """
    counts = collections.Counter()
    for names in train_recipes:
        counts.update(set(names))
    return sorted(name for name, count in counts.items() if count >= min_count)
