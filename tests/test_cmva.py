"""The CMVA model: objective, phases and freezing, inference, saving, bad input."""

import os

import keras
import numpy as np
import pytest
import tiny
from tiny import build_tiny_cmva, same, snapshot, tiny_data

import cmva_keras as cm


class Snapshots(keras.callbacks.Callback):
    """Records every part's variables at the end of each epoch (through `self.model`)."""

    def __init__(self):
        super().__init__()
        self.by_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch.append(snapshot(self.model))


def fit_phases(model, phase_epochs=(1, 1, 1), n=32, **kwargs):
    x, y = tiny_data(n, task=model.task)
    model.compile()
    snaps = Snapshots()
    history = model.fit(
        x, y, batch_size=8, epochs=sum(phase_epochs),
        callbacks=[cm.PhaseSchedule(phase_epochs, verbose=0), snaps], verbose=0, **kwargs,
    )
    return history, snaps.by_epoch


def test_parts_are_public_attributes():
    model = build_tiny_cmva()
    assert isinstance(model.mapper, cm.layers.Mapper)
    for name in cm.PARTS:
        assert model.part(name) is getattr(model, name)
    with pytest.raises(ValueError, match="source_encoder"):
        model.part("encoder")


def test_history_has_every_term_and_the_phases():
    history, _ = fit_phases(build_tiny_cmva(), (1, 2, 1))
    for name in ("loss",) + cm.TERMS:
        assert len(history.history[name]) == 4
        assert np.all(np.isfinite(history.history[name]))
    assert history.history["phase"] == [1, 2, 2, 3]


def test_freezing_is_bit_exact_per_phase_including_batchnorm_statistics():
    before = None
    model = build_tiny_cmva()
    x, y = tiny_data(32)
    model.build((None,) + x.shape[1:])
    before = snapshot(model)
    _, snaps = fit_phases(model, (2, 2, 1))
    end_1, end_2, end_3 = snaps[1], snaps[3], snaps[4]
    # Phase 1 trains both branches and leaves the mapper untouched.
    for part in ("source_encoder", "source_decoder", "target_encoder", "target_decoder"):
        assert not same(before, end_1, part), part
    assert same(before, end_1, "mapper")
    # Phase 2 trains only the mapper; E1's BatchNorm statistics stay put too.
    for part in ("source_encoder", "source_decoder", "target_encoder", "target_decoder"):
        assert same(end_1, end_2, part), part
    assert not same(end_1, end_2, "mapper")
    # Phase 3 trains everything.
    for part in cm.PARTS:
        assert not same(end_2, end_3, part), part


def test_batchnorm_statistics_stay_put_in_a_frozen_part_and_move_in_a_trained_one():
    model = build_tiny_cmva()  # E1 has a BatchNormalization layer
    x, y = tiny_data(32)
    model.build((None,) + x.shape[1:])
    statistics = [
        v for v in model.source_encoder.non_trainable_variables if v.path.endswith(("moving_mean", "moving_variance"))
    ]
    assert len(statistics) == 2, [v.path for v in model.source_encoder.variables]

    def values():
        return [np.array(keras.ops.convert_to_numpy(v.value)) for v in statistics]

    def moved(a, b):
        return all(np.max(np.abs(u - v)) > 1e-4 for u, v in zip(a, b))

    model.compile()
    start = values()  # zeros and ones: any training-mode batch moves them
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # phase 1 trains E1
    after_1 = values()
    assert moved(start, after_1), "phase 1 trains E1: its BatchNorm statistics should move"
    # Phase 2 freezes E1; the images are shifted so that batch statistics differ from the stored ones.
    shifted = x * 2.0 + 1.0
    model.set_phase(2, reset_optimizer=True)
    model.fit(shifted, y, batch_size=8, epochs=1, verbose=0)
    after_2 = values()
    for before, after, v in zip(after_1, after_2, statistics):
        assert np.array_equal(before, after), f"{v.path} moved in phase 2, where E1 is frozen"
    # The same batches do move them where E1 trains (phase 3).
    model.set_phase(3, reset_optimizer=True)
    model.fit(shifted, y, batch_size=8, epochs=1, verbose=0)
    assert moved(after_2, values()), "phase 3 trains E1 on the shifted images: its BatchNorm statistics should move"


def test_loss_is_the_weighted_sum_of_the_active_terms():
    weights = {"rec_1": 2.0, "kl_1": 0.5, "rec_2": 3.0, "kl_2": 0.25, "rec_m": 4.0, "kl_m": 0.125, "w2": 0.75}
    model = build_tiny_cmva(loss_weights=weights)
    model.compile()
    x, y = tiny_data(16)
    for phase in (1, 2, 3):
        model.set_phase(phase)
        logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
        active = cm.PHASES[phase].active_terms
        expected = sum(weights[t] * logs[t] for t in active)
        assert logs["loss"] == pytest.approx(expected, rel=1e-5)
        for name, variable in model.loss_weight_variables.items():
            assert float(keras.ops.convert_to_numpy(variable.value)) == (weights[name] if name in active else 0.0)


def test_optimizer_restarts_at_a_phase_boundary():
    model = build_tiny_cmva()
    fit_phases(model, (1, 0, 0))
    learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    moments = [v for v in model.optimizer.variables if "momentum" in v.path or "velocity" in v.path]
    assert any(np.any(keras.ops.convert_to_numpy(v.value) != 0) for v in moments)
    model.set_phase(2, reset_optimizer=True)
    assert all(np.all(keras.ops.convert_to_numpy(v.value) == 0) for v in moments)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == learning_rate


def test_frozen_parts_adam_moments_stay_put_within_a_phase():
    model = build_tiny_cmva()
    x, y = tiny_data(16)
    model.compile()
    model.train_on_batch(x, y)  # phase 1: E1, D1, E2, D2 get non-zero moments
    model.set_phase(2)  # keep the optimizer state, to see which moments move
    before = [np.array(keras.ops.convert_to_numpy(v.value)) for v in model.optimizer.variables]
    model.train_on_batch(x, y)
    after = [np.array(keras.ops.convert_to_numpy(v.value)) for v in model.optimizer.variables]
    changed = sum(not np.array_equal(a, b) for a, b in zip(before, after))
    # The step counter, and a momentum and a velocity per mapper variable; nothing else.
    assert changed == 1 + 2 * len(model.mapper.trainable_variables)


def test_set_phase_by_hand_in_an_own_loop():
    model = build_tiny_cmva()
    x, y = tiny_data(16)
    model.compile()
    model.train_on_batch(x, y)  # phase 1
    model.set_phase(2, reset_optimizer=True)
    before = snapshot(model)
    logs = model.train_on_batch(x, y, return_dict=True)
    after = snapshot(model)
    assert model.phase == 2
    assert set(cm.TERMS) <= set(logs)
    for part in ("source_encoder", "source_decoder", "target_encoder", "target_decoder"):
        assert same(before, after, part), part
    assert not same(before, after, "mapper")
    with pytest.raises(ValueError, match="phases are 1"):
        model.set_phase(4)


def test_predict_is_deterministic_and_has_both_paths():
    model = build_tiny_cmva()
    fit_phases(model, (1, 1, 1))
    x, _ = tiny_data(8, seed=3)
    mapper_a = model.predict(x, verbose=0)
    mapper_b = model.predict(x, verbose=0)
    upper = model.predict(x, path="upper", verbose=0)
    assert mapper_a.shape == upper.shape == (8, 5)
    np.testing.assert_array_equal(mapper_a, mapper_b)
    assert np.all((mapper_a > 0) & (mapper_a < 1)), "classification outputs probabilities"
    assert not np.allclose(mapper_a, upper)
    # The upper path is D1(mu1): compute it from the parts directly.
    mu1, _ = model.source_encoder(x, training=False)
    expected_upper = keras.ops.sigmoid(model.source_decoder(mu1))
    np.testing.assert_allclose(upper, keras.ops.convert_to_numpy(expected_upper), rtol=1e-5, atol=1e-6)
    # And the mapper path is D2(VD(VE(mu1, sigma1).mean).mean).
    mu_v, _ = model.mapper.encode(*model.source_encoder(x, training=False))
    mu_m, _ = model.mapper.decode(mu_v)
    expected = keras.ops.sigmoid(model.target_decoder(mu_m))
    np.testing.assert_allclose(mapper_a, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-6)
    # A prediction after `predict(path="upper")` is back on the mapper path.
    np.testing.assert_array_equal(model.predict(x, verbose=0), mapper_a)


def test_threshold_is_saved_with_the_model(tmp_path):
    model = build_tiny_cmva()
    x, y = tiny_data(8)
    model.build((None,) + x.shape[1:])
    model.set_threshold(0.3)
    labels = model.predict_labels(x, verbose=0)
    np.testing.assert_array_equal(labels, (model.predict(x, verbose=0) > 0.3).astype("int32"))
    path = os.path.join(tmp_path, "t.keras")
    model.save(path)
    assert keras.models.load_model(path).threshold == pytest.approx(0.3)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        model.set_threshold(1.5)


def test_regression_outputs_the_target_shape():
    model = build_tiny_cmva(task="regression")
    history, _ = fit_phases(model, (1, 1, 1))
    assert all(np.isfinite(history.history["rec_m"]))
    x, _ = tiny_data(4, task="regression")
    assert model.predict(x, verbose=0).shape == (4, 3, 2)


def fixed_draws(n, seed=3):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=(n, tiny.LATENT)).astype("float32") for k in cm.CMVA.NOISE_KEYS}


def terms_of(model, x, y, **kwargs):
    terms, _ = model.compute_objective(x, y, **kwargs)
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()}


def test_fixed_noise_replaces_sampling_when_no_noise_is_given():
    model = build_tiny_cmva()
    x, y = tiny_data(8)
    model.build((None,) + x.shape[1:])
    model.compile()
    model.set_phase(3)  # every term active, the mapper's included
    assert model.fixed_noise is None
    # Without it, each call draws its own noise.
    assert terms_of(model, x, y) != terms_of(model, x, y)
    noise = fixed_draws(8)
    model.fixed_noise = noise
    first, second = terms_of(model, x, y), terms_of(model, x, y)
    assert first == second
    assert terms_of(model, x, y, noise=noise) == first
    # An explicit `noise` still wins, and different draws give different terms.
    assert terms_of(model, x, y, noise=fixed_draws(8, seed=4)) != first
    assert "fixed_noise" not in model.get_config()
    # Training steps use it too: evaluate's step gives the same terms (trace after setting it).
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    for name in ("loss",) + cm.TERMS:
        assert logs[name] == pytest.approx(first[name], rel=1e-5, abs=1e-7), name
    model.fixed_noise = None
    assert terms_of(model, x, y) != terms_of(model, x, y)


def test_fixed_noise_refuses_unknown_keys():
    model = build_tiny_cmva()
    with pytest.raises(ValueError, match=r"Unknown noise key\(s\) \['z9'\].*z_m"):
        model.fixed_noise = {**fixed_draws(4), "z9": np.zeros((4, tiny.LATENT), "float32")}
    assert model.fixed_noise is None
    x, y = tiny_data(4)
    with pytest.raises(ValueError, match="z9"):
        model.compute_objective(x, y, noise={"z9": np.zeros((4, tiny.LATENT), "float32")})


def test_config_round_trip():
    model = build_tiny_cmva(loss_weights={"w2": 0.5})
    config = model.get_config()
    clone = cm.CMVA.from_config(config)
    assert clone.get_config() == config
    assert clone.loss_weights["w2"] == 0.5
    assert isinstance(clone.target_decoder, cm.layers.MLP)


def test_keras_file_round_trip_keeps_predictions_phase_and_weights(tmp_path):
    model = build_tiny_cmva(loss_weights={"kl_1": 0.25})
    fit_phases(model, (1, 1, 0))
    assert model.phase == 2
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x, y = tiny_data(8, seed=5)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(
        loaded.predict(x, path="upper", verbose=0), model.predict(x, path="upper", verbose=0)
    )
    assert loaded.phase == 2
    for name in cm.TERMS:
        assert float(keras.ops.convert_to_numpy(loaded.loss_weight_variables[name].value)) == float(
            keras.ops.convert_to_numpy(model.loss_weight_variables[name].value)
        )
    # The loaded model is compiled and trains on in phase 2 with its freezing.
    before = snapshot(loaded)
    loaded.train_on_batch(x, y)
    after = snapshot(loaded)
    assert same(before, after, "source_encoder") and not same(before, after, "mapper")


def test_same_global_seed_gives_the_same_run():
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(123)
        model = build_tiny_cmva(seed=None)
        history, _ = fit_phases(model, (1, 1, 0))
        runs.append((history.history["loss"], snapshot(model)))
    assert runs[0][0] == runs[1][0]
    assert all(same(runs[0][1], runs[1][1], p) for p in cm.PARTS)


def test_compiled_metrics_are_reported_on_the_mapper_path():
    model = build_tiny_cmva()
    model.compile(metrics=[keras.metrics.BinaryAccuracy(name="acc")])
    x, y = tiny_data(16)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    predictions = model.predict(x, verbose=0)
    assert logs["acc"] == pytest.approx(np.mean((predictions > 0.5) == (y > 0.5)), abs=1e-6)


# ----------------------------------------------------------------- bad input
def test_wrong_target_shape_names_expected_and_got():
    model = build_tiny_cmva()
    model.compile()
    x, _ = tiny_data(8)
    with pytest.raises(ValueError, match=r"expected targets y of shape \(None, 5\).*got \(.*7\)"):
        model.fit(x, np.zeros((8, 7), "float32"), verbose=0)


def test_wrong_source_shape_names_expected_and_got():
    model = build_tiny_cmva()
    model.compile()
    x, y = tiny_data(8)
    model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"expected source inputs x of shape \(None, 12, 12, 3\)"):
        model.evaluate(np.zeros((8, 10, 10, 3), "float32"), y, verbose=0)


def test_missing_targets_and_sample_weights_are_refused():
    model = build_tiny_cmva()
    model.compile()
    x, y = tiny_data(8)
    with pytest.raises(ValueError, match=r"\(source, target\) pairs"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="sample weights"):
        model.fit(x, y, sample_weight=np.ones(8), verbose=0)
    # The refused calls lost nothing: the same model still trains.
    logs = model.fit(x, y, verbose=0).history
    assert np.isfinite(logs["loss"][0])


def test_unknown_settings_list_the_valid_ones():
    with pytest.raises(ValueError, match="the terms are"):
        build_tiny_cmva(loss_weights={"kl": 1.0})
    with pytest.raises(ValueError, match="classification"):
        cm.CMVA(None, None, None, None, None, target_shape=(3,), task="ranking")
    with pytest.raises(ValueError, match="own objective"):
        build_tiny_cmva().compile(loss="mse")
    with pytest.raises(ValueError, match="non-negative epoch count per phase"):
        cm.PhaseSchedule((1, -1, 2))


def test_a_schedule_must_have_one_count_per_phase_of_the_model():
    model = build_tiny_cmva()
    model.compile()
    x, y = tiny_data(8)
    with pytest.raises(ValueError, match="PhaseSchedule has 2 phase.*CMVA has 3"):
        model.fit(x, y, epochs=3, callbacks=[cm.PhaseSchedule((1, 2), verbose=0)], verbose=0)


def values(variables):
    return [np.array(keras.ops.convert_to_numpy(v.value)) for v in variables]


def test_non_finite_term_stops_training_and_names_it():
    model = build_tiny_cmva()
    model.compile()
    x, y = tiny_data(16)
    y[3, 0] = np.nan
    model.build((None,) + x.shape[1:])
    before = values(model.variables)
    guard = cm.NonFiniteLossGuard(last_good_checkpoint=lambda: "/some/phase_1.keras")
    with pytest.raises(cm.NonFiniteLossError) as info:
        model.fit(x, y, batch_size=8, epochs=2, callbacks=[guard], verbose=0)
    message = str(info.value)
    # rec_1 is the first term computed from the NaN target.
    assert "'rec_1'" in message and "epoch 1" in message and "/some/phase_1.keras" in message
    # The model object survives the error (on JAX too, whose state lives outside it mid-epoch):
    # what the NaN step trained holds that step's result, everything else its values from before.
    assert model.phase == 1
    trained_parts = {id(v) for name in model.current_phase.trained_parts for v in model.part(name).variables}
    trained = {id(v) for v in model.phase_trainable_variables}
    untouched = 0
    for variable, old, new in zip(model.variables, before, values(model.variables)):
        if id(variable) in trained:
            assert not np.array_equal(old, new), f"{variable.path}: the step did not reach the model"
        elif id(variable) not in trained_parts and variable is not model.seed_generator.state:
            assert np.all(np.isfinite(new)), variable.path
            np.testing.assert_array_equal(new, old, err_msg=variable.path)
            untouched += 1
    assert untouched >= len(model.mapper.variables) + len(cm.TERMS)


def test_backup_and_restore_resumes_in_phase_2(tmp_path):
    x, y = tiny_data(32)
    backup = os.path.join(tmp_path, "backup")

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("simulated crash")

    first = build_tiny_cmva()
    first.build((None,) + x.shape[1:])  # BackupAndRestore needs a built model
    first.compile()
    snaps = Snapshots()
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[
            cm.PhaseSchedule((1, 2, 1), verbose=0), keras.callbacks.BackupAndRestore(backup), snaps, Crash(),
        ])
    at_crash = snaps.by_epoch[-1]  # end of epoch 2, the first of phase 2

    class Phases(keras.callbacks.Callback):
        seen = []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append((epoch, self.model.phase))

    resumed = build_tiny_cmva()  # a fresh process would start in phase 1
    resumed.build((None,) + x.shape[1:])
    resumed.compile()
    snaps = Snapshots()
    history = resumed.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[
        cm.PhaseSchedule((1, 2, 1), verbose=0), keras.callbacks.BackupAndRestore(backup), snaps, Phases(),
    ])
    assert Phases.seen == [(2, 2), (3, 3)]
    assert history.history["phase"] == [2, 3]
    end_of_phase_2 = snaps.by_epoch[0]
    for part in ("source_encoder", "source_decoder", "target_encoder", "target_decoder"):
        assert same(at_crash, end_of_phase_2, part), part
    assert not same(at_crash, end_of_phase_2, "mapper")
