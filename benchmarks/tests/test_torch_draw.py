"""`--torch_draw_ab`: the two arms really draw differently, and the summary's arithmetic."""

import keras
import pytest

from cmva_benchmark import torch_draw
from cmva_benchmark.config import quick_config


def test_summary_pairs_rounds_and_counts_the_rounds_the_own_draw_won():
    figures = torch_draw.summary({"own_s": [1.0, 1.0, 2.0], "keras_s": [2.0, 1.0, 1.0]}, steps=10)
    assert figures["speedup_median"] == 1.0 and figures["speedup_range"] == (0.5, 2.0)
    assert figures["own_faster_rounds"] == 1 and figures["rounds"] == 3
    assert figures["own_ms_per_step"] == pytest.approx(100.0) and figures["keras_ms_per_step"] == pytest.approx(100.0)
    assert "faster in 1 of 3 rounds" in torch_draw.report_line(2, 10, figures)


def record_keras_draws(monkeypatch):
    """A list that receives, at each `keras.random.normal` call, whether `seeded_normal` was set to draw itself."""
    from cmva_keras.backend import keras_private

    flags_at_keras_calls = []
    normal = keras.random.normal

    def recording(*args, **kwargs):
        flags_at_keras_calls.append(keras_private._TORCH_NORMAL_CHECKED[0])
        return normal(*args, **kwargs)

    assert keras_private._torch_normal_matches_keras()
    monkeypatch.setattr(keras.random, "normal", recording)
    return flags_at_keras_calls


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the A/B times the PyTorch step")
def test_only_the_keras_arm_calls_keras_random_normal_and_the_setting_is_restored(monkeypatch):
    from cmva_keras.backend import keras_private

    flags_at_keras_calls = record_keras_draws(monkeypatch)
    steps, rounds = 10, 2
    timed = torch_draw.time_phase(quick_config(steps_per_round=steps), 3, steps, rounds)
    assert len(timed["own_s"]) == len(timed["keras_s"]) == rounds
    # Four draws a step (z1, z2, z_v, z_m), in the Keras arm's untimed epoch and its timed rounds only.
    assert flags_at_keras_calls == [False] * (4 * steps * (1 + rounds))
    assert keras_private._TORCH_NORMAL_CHECKED == [True]


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the A/B times the PyTorch draw")
def test_the_draw_timing_calls_keras_only_in_its_keras_arm(monkeypatch):
    from cmva_keras.backend import keras_private

    flags_at_keras_calls = record_keras_draws(monkeypatch)
    figures = torch_draw.time_draws(draws=10)
    assert sorted(figures) == ["keras", "own", "torch_randn"] and all(us > 0 for us in figures.values())
    assert flags_at_keras_calls == [False] * (100 + 5 * 10)  # the warm-up and five loops, in the Keras arm only
    assert keras_private._TORCH_NORMAL_CHECKED == [True]
