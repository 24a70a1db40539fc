"""Pieces of the evaluation (cmva_keras/evaluation.py and the tasks' parts of it) that need no trained model."""

import numpy as np
import pytest

from cmva_keras import evaluation, tasks
from cmva_keras.tasks import hand as hand_task

FOOD, HAND = tasks.get("food"), tasks.get("hand")


def test_constant_food_baseline_is_the_best_fixed_ingredient_set():
    # Ingredient 0 is in every recipe, 1 in one of four, 2 in none.
    y = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]], "float32")
    prediction, threshold = FOOD.chance(y)
    np.testing.assert_allclose(prediction[0], [1.0, 0.25, 0.0])
    # Predicting {0, 1} scores F1 1 on the first recipe and 2/3 on three: 0.75.
    # Predicting {0} scores 2/3 on the first and 1 on three: 11/12, the best;
    # "> 0.25" selects it.
    assert threshold == pytest.approx(0.25)
    scores = evaluation.score(FOOD, {"y": y, "mapper": y, "upper": y}, ("mapper", "upper"), threshold=0.5)
    assert scores["constant"]["f1"] == pytest.approx(11 / 12)
    assert scores["mapper"]["f1"] == pytest.approx(1.0)


def test_constant_hand_baseline_is_the_mean_pose():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(6, 21, 3)).astype("float32")
    collected = {"y": y, "mapper": y, "upper": y + 1.0, "extras": {"scale": np.full(6, 10.0, "float32")}}
    scores = evaluation.score(HAND, collected, ("mapper", "upper"))
    assert scores["mapper"]["epe_mm"] == pytest.approx(0.0, abs=1e-5)
    # The upper path is off by (1, 1, 1) normalised units: sqrt(3) * 10 mm.
    assert scores["upper"]["epe_mm"] == pytest.approx(np.sqrt(3) * 10, rel=1e-5)
    expected = np.mean(np.linalg.norm((y - y.mean(axis=0)) * 10, axis=-1))
    assert scores["constant"]["epe_mm"] == pytest.approx(expected, rel=1e-5)


def test_calibrated_threshold_maximises_f1():
    y = np.array([[1, 0], [0, 1]], "float32")
    probabilities = np.array([[0.3, 0.1], [0.1, 0.35]], "float32")
    # Only thresholds below 0.3 predict both positives and nothing else.
    assert evaluation.calibrate_threshold(y, probabilities) < 0.3


def test_food_tta_views_are_five_crops_and_their_mirrors():
    images = np.arange(2 * 6 * 8 * 3, dtype="float32").reshape(2, 6, 8, 3)
    config = FOOD.get_config("smoke")
    config.data.crop_size = 4
    views = FOOD.tta_views(images, config)
    assert len(views) == 10 and all(undo is None for _, undo in views)
    centre, mirrored = np.asarray(views[0][0]), np.asarray(views[1][0])
    np.testing.assert_array_equal(centre, images[:, 1:5, 2:6])
    np.testing.assert_array_equal(mirrored, images[:, 1:5, 2:6][:, :, ::-1])
    np.testing.assert_array_equal(np.asarray(views[8][0]), images[:, 2:6, 4:8])  # bottom-right corner
    np.testing.assert_array_equal(np.asarray(FOOD.centre_view(images, config)), centre)


@pytest.mark.parametrize("side_as_input", [False, True])
def test_hand_tta_mirror_is_undone_on_the_pose(side_as_input):
    """The vertical mirror (y flips); with the side as an input also mirrored back into a right hand (x too)."""
    images = np.random.default_rng(0).random((1, 4, 4, 3)).astype("float32")
    config = HAND.get_config("smoke")
    config.data.hand_side_input = side_as_input
    (original, none), (flipped, undo) = HAND.tta_views(images, config)
    assert none is None
    expected = images[:, ::-1, ::-1] if side_as_input else images[:, ::-1]
    np.testing.assert_array_equal(np.asarray(flipped), expected)
    pose = np.ones((1, 21, 3), "float32")
    np.testing.assert_array_equal((pose * undo)[0, 0], [-1.0 if side_as_input else 1.0, -1.0, 1.0])


# The hand order as the dataset documents it (docs/method.md), written out here
# rather than taken from cmva_keras.keypoints: 0 wrist (the palm root in built
# data), then thumb, index, middle, ring, pinky, each tip to knuckle, so finger
# f is keypoints 1 + 4f (tip) .. 4 + 4f (MCP); 12 is the middle MCP, 11 its PIP.
DOCUMENTED_TIPS = [1, 5, 9, 13, 17]
DOCUMENTED_MCPS = [4, 8, 12, 16, 20]


def test_hand_tsne_labels_are_quartiles_of_fingertip_spread():
    rng = np.random.default_rng(0)
    # One fixed hand; pose i has its five fingertips at distance radii[i] from the root (0).
    base = rng.normal(size=(21, 3))
    base[0] = 0.0
    directions = rng.normal(size=(5, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = rng.permutation(np.arange(1.0, 9.0))
    poses = np.repeat(base[None], 8, axis=0)
    poses[:, DOCUMENTED_TIPS] = radii[:, None, None] * directions
    labels, title = HAND.latent_labels(poses.reshape(8, 63))
    assert title == "fingertip spread quartile"
    expected = np.array(hand_task.SPREAD_QUARTILES)[(radii - 1).astype(int) // 2]
    assert list(labels) == list(expected)

    # Moving only the knuckles (MCPs), however far, leaves the labels alone ...
    knuckles = poses.copy()
    knuckles[:, DOCUMENTED_MCPS] += rng.uniform(-50.0, 50.0, size=(8, 5, 3))
    assert list(HAND.latent_labels(knuckles)[0]) == list(expected)
    # ... while knuckles spread in the opposite order to the tips do not fool it.
    knuckles[:, DOCUMENTED_MCPS] = (9.0 - radii)[:, None, None] * 10.0 * directions
    assert list(HAND.latent_labels(knuckles)[0]) == list(expected)


def test_food_tsne_labels_name_the_most_frequent_ingredient_present():
    # Ingredient 2 is in 4 recipes, 0 in 3, 1 in 2, 3 in 1; with TOP_INGREDIENTS = 6 all four count.
    y = np.array([
        [1, 0, 1, 0],
        [1, 1, 0, 0],
        [0, 0, 1, 1],
        [1, 0, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 0],
    ], "float32")
    labels, _ = FOOD.latent_labels(y, ["salt", "garlic", "onion", "basil"])
    assert list(labels) == ["onion", "salt", "onion", "onion", "onion", "none of these"]
    unnamed, _ = FOOD.latent_labels(y)
    assert unnamed[1] == "ingredient 0"
