"""Terms a phase only logs are computed on a sample of its steps (`StagedModel`'s module doc).

CMVA's phase 2 trains the mapper only: `rec_1` and `rec_2` feed no gradient
there, so their decoder passes run on the first of every
`inactive_terms_every` steps of an epoch. These tests check, on every
backend, that this changes what is logged only by sampling (the logged value
is the mean over the sampled steps' values) and changes no weight.
"""

import keras
import numpy as np
import pytest
from tiny import LATENT, build_tiny_cmva, tiny_data

BATCH, STEPS = 4, 7


def noise():
    rng = np.random.default_rng(5)
    return {k: rng.normal(size=(BATCH, LATENT)).astype("float32") for k in ("z1", "z2", "z_v", "z_m")}


def fitted(every, phase):
    keras.utils.set_random_seed(0)
    model = build_tiny_cmva()
    model.inactive_terms_every = every
    model.set_phase(phase)
    model.fixed_noise = noise()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data(n=BATCH * STEPS)
    history = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}, (x, y)


def weights(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.weights]


def test_phase_two_skips_the_decoders_of_rec_1_and_rec_2_and_logs_the_sampled_mean():
    model, logs, (x, y) = fitted(every=3, phase=2)
    assert model.skipped_terms() == ("rec_1", "rec_2")
    # E1, D1, E2, D2 are frozen in phase 2, so each batch's rec_1 and rec_2 are what they were in
    # the training step: the logs must be their means over steps 0, 3 and 6.
    per_step = [
        {k: float(keras.ops.convert_to_numpy(v)) for k, v in
         model.compute_objective(x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH], training=True)[0].items()}
        for i in range(STEPS)
    ]
    for name in ("rec_1", "rec_2"):
        sampled = np.mean([per_step[i][name] for i in (0, 3, 6)])
        every_step = np.mean([s[name] for s in per_step])
        np.testing.assert_allclose(logs[name], sampled, rtol=1e-5)
        assert abs(sampled - every_step) > 1e-6  # the two means differ: the check tells them apart


@pytest.mark.parametrize("phase", [1, 2])
def test_sampling_the_logged_terms_changes_no_weight_and_no_optimised_term(phase):
    sampled_model, sampled, _ = fitted(every=3, phase=phase)
    full_model, full, _ = fitted(every=1, phase=phase)
    assert full_model.skipped_terms() == ()
    for a, b in zip(weights(sampled_model), weights(full_model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    active = sampled_model.current_phase.active_terms
    for name in active:
        np.testing.assert_allclose(sampled[name], full[name], rtol=1e-5)
    skipped = sampled_model.skipped_terms()
    assert skipped == (("rec_m",) if phase == 1 else ("rec_1", "rec_2"))
    assert all(np.isfinite(sampled[name]) and sampled[name] > 0 for name in skipped)


def test_phase_three_and_evaluation_skip_nothing():
    model = build_tiny_cmva()
    model.set_phase(3)
    assert model.skipped_terms() == () and model.log_flag(4) is True
    model.set_phase(2)
    assert model.skipped_terms(training=False) == ()


def test_inactive_terms_every_is_saved_and_checked(tmp_path):
    model = build_tiny_cmva()
    assert model.inactive_terms_every == 10  # the default
    config = model.get_config()
    config["inactive_terms_every"] = 4
    assert type(model).from_config(config).inactive_terms_every == 4
    with pytest.raises(ValueError, match="inactive_terms_every must be a positive"):
        type(model).from_config({**config, "inactive_terms_every": 0})
