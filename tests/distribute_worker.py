"""Run in a subprocess whose devices and processes are set up for data-parallel tests (tests/test_distribute.py).

The devices must be configured before the backend starts, which the pytest
process has already done; so each check runs here, in a fresh process:

`python distribute_worker.py step-parity OUT MODELS`: on 2 devices (JAX: 2
virtual CPU devices from `XLA_FLAGS`; TensorFlow: 2 logical CPU devices
configured here), for each of MODELS (comma-separated: cmva, cadavae, cmvae), from
one saved tiny model, one training step (`fit` on one batch) per phase on the
same global batch with the same fixed noise, on one device and data-parallel;
writes the terms and every model variable after each step to OUT (`.npz`).
On TensorFlow it also loads the `.keras` file inside the strategy's scope.
It also records the error `setup` gives for a global batch of 15.

`python distribute_worker.py smoke-resume WORKDIR OUT`: the food smoke run
under mixed_bfloat16 through `train()` data-parallel on 2 devices, stopped
after its second epoch (phase 2), then run again; then its `model.keras` is
loaded outside the run's scopes; writes what each attempt saw to OUT (JSON).

`python distribute_worker.py baseline-stages WORKDIR OUT`: the food smoke run
of CADA-VAE + Mapper through `train()` data-parallel on 2 devices (the
baseline's three phases into WORKDIR/base, then the mapper's); writes which
parts changed in each epoch, and the files, to OUT (JSON).

`python distribute_worker.py process ADDRESS NUM_PROCESSES PROCESS_ID WORKDIR OUT [stop]`:
one process of a multi-process JAX job (one CPU device each): joins the job,
trains the food smoke run (with validation) into WORKDIR and writes its final
weights to OUT (`.npz`) and what it saw to OUT.json. With `stop`, every
process stops after epoch 2 and then runs the same training again, resuming.
"""

import json
import os
import sys

GLOBAL_BATCH = 8


def _configure_tensorflow_devices(count=2):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def _values(variables):
    import keras

    return [keras.ops.convert_to_numpy(v) for v in variables]


def _tiny_model(name, batch_norm):
    """`(model, x, y, latent size)`: a tiny CMVA, CADA-VAE or CM-VAE (tests/tiny.py, tests/test_baselines.py), its data."""
    if name == "cmva":
        from tiny import LATENT, build_tiny_cmva, tiny_data

        x, y = tiny_data(16, seed=11)
        y[y.sum(axis=1) == 0, 0] = 1.0  # no all-zero row: ReLUs away from their kink
        return build_tiny_cmva(batch_norm=batch_norm), x, y, LATENT
    from test_baselines import LATENT, baseline_data, build_cadavae, build_cmvae

    x, y = baseline_data(16, seed=11)
    return {"cadavae": build_cadavae, "cmvae": build_cmvae}[name](batch_norm=batch_norm), x, y, LATENT


def step_parity(out, models="cmva"):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        _configure_tensorflow_devices()
    import numpy as np

    from cmva_keras.training import distribute

    parallel_setup = distribute.setup("data_parallel", global_batch_size=GLOBAL_BATCH)
    found = {"replicas": parallel_setup.num_replicas}
    for name in models.split(","):
        # TensorFlow's replicas normalise by their own share of the batch (no synchronised BatchNorm):
        # the model compared there has none. JAX's sharded step normalises over the global batch.
        model, x, y, latent = _tiny_model(name, batch_norm=backend == "jax")
        found.update({f"{name}/{k}": v for k, v in _model_step_parity(model, x, y, latent, parallel_setup,
                                                                       os.path.dirname(out)).items()})
    try:
        distribute.setup("data_parallel", global_batch_size=15)
        batch_error = ""
    except ValueError as error:
        batch_error = str(error)
    np.savez(out, batch_error=batch_error, **found)


def _model_step_parity(model, x, y, latent, parallel_setup, folder):
    """One step per phase of `model` (saved, then reloaded for each), on one device and data-parallel."""
    import keras
    import numpy as np
    import tensorflow as tf

    from cmva_keras.training import distribute

    backend = keras.backend.backend()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # non-zero momentum to start from
    path = os.path.join(folder, f"start_{type(model).__name__}.keras")
    model.save(path)
    rng = np.random.default_rng(3)
    noise = {k: rng.normal(size=(GLOBAL_BATCH, latent)).astype("float32") for k in model.NOISE_KEYS}
    bx, by = x[:GLOBAL_BATCH], y[:GLOBAL_BATCH]
    names = ("loss",) + tuple(model.TERMS)

    def steps(distribution):
        results = {}
        for phase in sorted(model.PHASES):
            with distribution.scope():  # the model is loaded and trained in it, as training.loop does
                loaded = keras.models.load_model(path)
                loaded.set_phase(phase)
                if backend == "tensorflow" and distribution.num_replicas > 1:
                    _per_replica_noise(loaded, noise, distribution.num_replicas)
                else:
                    loaded.fixed_noise = noise
                before = _values(loaded.variables)
                # `fit`, not `train_on_batch`: TensorFlow's train_on_batch gives every replica the whole batch.
                history = loaded.fit(tf.data.Dataset.from_tensors((bx, by)), epochs=1, verbose=0).history
            results[f"{phase}/terms"] = np.array([float(history[k][-1]) for k in names])
            results[f"{phase}/devices"] = np.array([_device_count(v) for v in loaded.trainable_variables])
            for i, (a, b) in enumerate(zip(before, _values(loaded.variables))):
                results[f"{phase}/before/{i}"] = a
                results[f"{phase}/after/{i}"] = b
            results[f"{phase}/trained"] = np.array(
                [any(v is t for t in loaded.phase_trainable_variables) for v in loaded.variables]
            )
            frozen = [v for part in loaded.PARTS if part not in loaded.current_phase.trained_parts
                      for v in loaded.part(part).variables]
            results[f"{phase}/frozen"] = np.array([any(v is f for f in frozen) for v in loaded.variables])
        return results

    single = steps(distribute.Distribution())
    parallel = steps(parallel_setup)
    return {"names": np.array(names), "phases": np.array(sorted(model.PHASES)),
            **{f"single/{k}": v for k, v in single.items()}, **{f"parallel/{k}": v for k, v in parallel.items()}}


def _device_count(variable):
    """On how many devices the variable lives (JAX: its sharding; TensorFlow: a MirroredVariable's copies)."""
    value = variable.value
    if hasattr(value, "sharding"):
        return len(value.sharding.device_set)
    return len(getattr(value, "values", (value,)))


def _per_replica_noise(model, global_noise, replicas):
    """TensorFlow replicas each see a slice of the global batch: give each the same slice of the noise.

    MirroredStrategy hands replica r the r-th consecutive slice of the batch.
    """
    import tensorflow as tf

    objective = model.compute_objective
    per_replica = GLOBAL_BATCH // replicas

    def sliced(x, y, training=False, noise=None, **kwargs):
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
        return objective(x, y, training=training, **kwargs,
                         noise={k: tf.slice(v, [start, 0], [per_replica, -1]) for k, v in global_noise.items()})

    model.compute_objective = sliced


def _smoke_config(method=None, mapper=None, **overrides):
    from cmva_keras.training.config import resolve_config

    settings = {"train.distribute": "data_parallel", "train.steps_per_epoch": 2, "train.batch_size": 8,
                "train.verbose": 0, **overrides}
    return resolve_config("food", "smoke", method=method, mapper=mapper,
                          overrides=[f"{k}={v}" for k, v in settings.items()])


class Stop(RuntimeError):
    """A simulated stop (a killed job) after the backup of an epoch was written."""


def _stop_after_epoch_1():
    """Patches `BackupAndRestore` to raise `Stop` after writing epoch 2's backup (phase 2), while armed.

    Returns `(stops, ran)`: `stops["armed"]` arms it; `ran` lists the (0-based) epochs that ended.
    """
    import keras

    original = keras.callbacks.BackupAndRestore.on_epoch_end
    stops = {"armed": True}
    ran = []

    def stop_after_epoch_1(self, epoch, logs=None):
        original(self, epoch, logs)  # the backup of epoch 1 is written first
        ran.append(epoch)
        if epoch == 1 and stops["armed"]:
            raise Stop("simulated stop after epoch 2 (phase 2)")

    keras.callbacks.BackupAndRestore.on_epoch_end = stop_after_epoch_1
    return stops, ran


def smoke_resume(workdir, out):
    """The smoke run under mixed_bfloat16, data-parallel: stopped, resumed; then its model.keras is loaded."""
    import keras
    import numpy as np

    from cmva_keras.training.loop import train

    stops, ran = _stop_after_epoch_1()
    config = _smoke_config(**{"train.validation_fraction": 0.1, "train.dtype_policy": "mixed_bfloat16"})
    seen = {}
    try:
        train(config, workdir)
        seen["first_finished"] = True
    except Stop:
        seen["first_finished"] = False
    seen["after_stop"] = sorted(os.listdir(workdir))
    seen["first_ran"] = list(ran)
    stops["armed"], ran[:] = False, []
    model, records = train(config, workdir)
    seen["second_ran"] = list(ran)
    seen["phase"] = model.phase
    seen["epochs"] = [r.get("epoch") for r in records]
    seen["phases"] = [r.get("phase") for r in records]
    seen["after_resume"] = sorted(os.listdir(workdir))
    seen["validation_logged"] = all("val_loss" in r for r in records)
    # Every term of every epoch (validation's too) is a finite number.
    terms = ("loss",) + tuple(model.TERMS)
    seen["terms_finite"] = all(isinstance(r[k], float) and np.isfinite(r[k]) for r in records
                               for k in terms + tuple(f"val_{t}" for t in terms))
    seen["distribution"] = type(keras.distribution.distribution()).__name__  # restored after the run
    seen["policy"] = keras.config.dtype_policy().name  # restored after the run
    # The saved model, loaded on one device outside the run's scopes, predicts what the trained one does.
    saved = keras.models.load_model(os.path.join(workdir, "model.keras"))
    x = np.random.default_rng(0).random((8, *model._source_input_shape)).astype("float32")
    trained, loaded = np.asarray(model.predict(x, verbose=0)), np.asarray(saved.predict(x, verbose=0))
    seen["saved_policy"] = saved.source_encoder.dtype_policy.name
    seen["prediction_dtype"] = str(loaded.dtype)
    seen["prediction_finite"] = bool(np.all(np.isfinite(loaded)))
    seen["saved_equals_trained"] = float(np.max(np.abs(trained - loaded)))
    with open(out, "w") as f:
        json.dump(seen, f)


def _part_snapshot(model):
    """Every variable of every part (BatchNorm statistics included), as NumPy arrays."""
    import keras
    import numpy as np

    # Through the variable, not `.value` (a MirroredVariable, which NumPy cannot convert, under TensorFlow).
    return {part: [np.array(keras.ops.convert_to_numpy(v)) for v in model.part(part).variables]
            for part in model.PARTS}


def _freeze_recorder(stages):
    """A callback appending, at each epoch's end, which parts changed since the last epoch (or the start)."""
    import keras
    import numpy as np

    class FreezeRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.previous = _part_snapshot(self.model)

        def on_epoch_end(self, epoch, logs=None):
            now, model = _part_snapshot(self.model), self.model
            changed = [part for part in model.PARTS
                       if not all(np.array_equal(a, b) for a, b in zip(self.previous[part], now[part]))]
            stages.append({
                "model": type(model).__name__, "epoch": epoch, "phase": model.phase,
                "trained": list(model.current_phase.trained_parts), "changed": changed,
                "devices": sorted({_device_count(v) for v in model.trainable_variables}),
                "finite": all(np.isfinite(float(v)) for k, v in (logs or {}).items() if k in model.TERMS + ("loss",)),
                "terms": sorted(k for k in (logs or {}) if k in model.TERMS),
            })
            self.previous = now

    return FreezeRecorder()


def baseline_stages(workdir, out):
    """CADA-VAE + Mapper through `train()`, data-parallel: the baseline's three phases, then the mapper's."""
    import keras

    if keras.backend.backend() == "tensorflow":
        _configure_tensorflow_devices()
    import numpy as np

    from cmva_keras.training import loop

    stages = []
    original = loop.method_callbacks
    loop.method_callbacks = lambda *args: [*original(*args), _freeze_recorder(stages)]
    config = _smoke_config(method="cadavae", mapper=True)
    model, records = loop.train(config, workdir)
    x = np.random.default_rng(0).random((8, *model._source_input_shape)).astype("float32")
    saved = keras.models.load_model(os.path.join(workdir, "model.keras"))
    seen = {
        "stages": stages, "files": sorted(os.listdir(workdir)), "base_files": sorted(os.listdir(f"{workdir}/base")),
        "records": [{"epoch": r["epoch"], "phase": r["phase"]} for r in records],
        "saved_equals_trained": bool(np.allclose(model.predict(x, verbose=0), saved.predict(x, verbose=0), atol=1e-6)),
    }
    with open(out, "w") as f:
        json.dump(seen, f)


def process(address, num_processes, process_id, workdir, out, stop=""):
    """One process of the job; with `stop`, the run is stopped after epoch 2 on every process, then run again."""
    import keras
    import numpy as np

    from cmva_keras.training import distribute
    from cmva_keras.training.loop import train

    num_processes, process_id = distribute.initialize_processes(address, int(num_processes), int(process_id))
    config = _smoke_config(**{"train.validation_fraction": 0.1})
    seen = {}
    if stop:
        stops, ran = _stop_after_epoch_1()
        try:
            train(config, workdir)
            seen["first_finished"] = True
        except Stop:
            seen["first_finished"] = False
        seen["first_ran"], seen["after_stop"] = list(ran), sorted(os.listdir(workdir))
        # The job is over (every process stopped, process 0's backup written) before it is run again.
        distribute.Distribution(num_processes=num_processes, process_id=process_id).barrier("stopped")
        stops["armed"], ran[:] = False, []
    model, records = train(config, workdir)
    if stop:
        seen["second_ran"] = list(ran)
    seen["records"] = records
    seen["epochs"] = [r.get("epoch") for r in records]
    seen["phase"] = model.phase
    with open(out + ".json", "w") as f:
        json.dump(seen, f)
    values = {f"{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    np.savez(out, **values)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"step-parity": step_parity, "smoke-resume": smoke_resume, "baseline-stages": baseline_stages,
     "process": process}[command](*args)
