"""Alignment in latent space (cmva_keras/metrics/alignment.py), from hand-worked cases."""

import numpy as np
import pytest

from cmva_keras.metrics import alignment


def test_wasserstein2_of_diagonal_gaussians():
    # Same scale, means 5 apart (a 3-4-5 triangle).
    assert alignment.mean_wasserstein2([[0.0, 0.0]], [[0.0, 0.0]], [[3.0, 4.0]], [[0.0, 0.0]]) == pytest.approx(5.0)
    # Same mean, sigma 2 against sigma 1: distance 1. Averaged with a zero-distance row: 0.5.
    log_var = np.log(4.0)
    value = alignment.mean_wasserstein2([[0.0], [1.0]], [[log_var], [0.0]], [[0.0], [1.0]], [[0.0], [0.0]])
    assert value == pytest.approx(0.5)


def test_retrieval_ranks_count_closer_candidates():
    keys = np.array([[0.0], [1.0], [2.0]])
    # Query 0 sits on key 2 (its own key 0 is the farthest): rank 3; query 1 on its own key: rank 1.
    ranks = alignment.retrieval_ranks(np.array([[2.0], [1.0], [0.0]]), keys)
    assert list(ranks) == [3, 1, 3]
    scores = alignment.retrieval_scores(np.array([[2.0], [1.0], [0.0]]), keys)
    assert scores["median_rank"] == 3.0 and scores["r_at_1"] == pytest.approx(1 / 3)
    assert scores["r_at_5"] == 1.0 and scores["num_candidates"] == 3


def test_perfect_alignment_retrieves_every_target_first():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(50, 8))
    scores = alignment.alignment_scores({"mapped": (means, np.zeros_like(means)),
                                         "target": (means, np.zeros_like(means))})
    assert scores["mapped"]["w2"] == pytest.approx(0.0, abs=1e-9)
    assert scores["mapped"]["median_rank"] == 1.0 and scores["mapped"]["r_at_1"] == 1.0


def test_an_offset_cloud_keeps_its_ranks_but_not_its_distance():
    """A constant shift moves every query equally: ranks can survive a large w2 (the issue's finding)."""
    rng = np.random.default_rng(1)
    targets = rng.normal(size=(40, 4))
    shifted = targets + 0.01 * rng.normal(size=targets.shape) + np.array([10.0, 0, 0, 0])
    scores = alignment.alignment_scores({"source": (shifted, np.zeros_like(shifted)),
                                         "target": (targets, np.zeros_like(targets))})["source"]
    assert scores["w2"] > 9.0
    assert scores["median_rank"] > 1.0  # the shift pulls queries toward targets lying in its direction


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same N"):
        alignment.retrieval_ranks(np.zeros((3, 2)), np.zeros((4, 2)))
