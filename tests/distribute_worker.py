"""Run in a subprocess whose devices and processes are set up for data-parallel tests (tests/test_distribute.py).

The devices must be configured before the backend starts, which the pytest
process has already done; so each check runs here, in a fresh process:

`python distribute_worker.py step-parity OUT`: on 2 devices (JAX: 2 virtual
CPU devices from `XLA_FLAGS`; TensorFlow: 2 logical CPU devices configured
here), from one saved tiny CMVA, one training step (`fit` on one batch) per phase on the same
global batch with the same fixed noise, on one device and data-parallel;
writes the terms and every model variable after each step to OUT (`.npz`).
On TensorFlow it also loads the `.keras` file inside the strategy's scope.
It also records the error `setup` gives for a global batch of 15.

`python distribute_worker.py smoke-resume WORKDIR OUT`: the food smoke run
through `train()` data-parallel on 2 devices, stopped after its second epoch
(phase 2), then run again; writes what each attempt saw to OUT (JSON).

`python distribute_worker.py process ADDRESS NUM_PROCESSES PROCESS_ID WORKDIR OUT`:
one process of a multi-process JAX job (one CPU device each): joins the job,
trains the food smoke run into WORKDIR and writes its final weights to OUT.
"""

import json
import os
import sys

NOISE_KEYS = ("z1", "z2", "z_v", "z_m")
GLOBAL_BATCH = 8


def _configure_tensorflow_devices(count=2):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def _values(variables):
    import keras

    return [keras.ops.convert_to_numpy(v) for v in variables]


def step_parity(out):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        _configure_tensorflow_devices()
    import numpy as np
    import tensorflow as tf
    from tiny import LATENT, build_tiny_cmva, tiny_data

    from cmva_keras.training import distribute

    x, y = tiny_data(16, seed=11)
    y[y.sum(axis=1) == 0, 0] = 1.0  # no all-zero row: ReLUs away from their kink
    # TensorFlow's replicas normalise by their own share of the batch (no synchronised BatchNorm):
    # the model compared there has none. JAX's sharded step normalises over the global batch.
    model = build_tiny_cmva(batch_norm=backend == "jax")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # non-zero momentum to start from
    path = os.path.join(os.path.dirname(out), "start.keras")
    model.save(path)
    rng = np.random.default_rng(3)
    noise = {k: rng.normal(size=(GLOBAL_BATCH, LATENT)).astype("float32") for k in NOISE_KEYS}
    bx, by = x[:GLOBAL_BATCH], y[:GLOBAL_BATCH]

    def steps(distribution):
        results = {}
        for phase in (1, 2, 3):
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
            results[f"{phase}/terms"] = np.array([float(history[k][-1]) for k in ("loss",) + NOISE_TERMS])
            results[f"{phase}/devices"] = np.array([_device_count(v) for v in loaded.trainable_variables])
            for i, (a, b) in enumerate(zip(before, _values(loaded.variables))):
                results[f"{phase}/before/{i}"] = a
                results[f"{phase}/after/{i}"] = b
            results[f"{phase}/trained"] = np.array(
                [any(v is t for t in loaded.phase_trainable_variables) for v in loaded.variables]
            )
            frozen = [v for name in loaded.PARTS if name not in loaded.current_phase.trained_parts
                      for v in loaded.part(name).variables]
            results[f"{phase}/frozen"] = np.array([any(v is f for f in frozen) for v in loaded.variables])
        return results

    single = steps(distribute.Distribution())
    parallel_setup = distribute.setup("data_parallel", global_batch_size=GLOBAL_BATCH)
    parallel = steps(parallel_setup)
    try:
        distribute.setup("data_parallel", global_batch_size=15)
        batch_error = ""
    except ValueError as error:
        batch_error = str(error)
    np.savez(out, replicas=parallel_setup.num_replicas, batch_error=batch_error,
             **{f"single/{k}": v for k, v in single.items()}, **{f"parallel/{k}": v for k, v in parallel.items()})


def _device_count(variable):
    """On how many devices the variable lives (JAX: its sharding; TensorFlow: a MirroredVariable's copies)."""
    value = variable.value
    if hasattr(value, "sharding"):
        return len(value.sharding.device_set)
    return len(getattr(value, "values", (value,)))


NOISE_TERMS = ("rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2")


def _per_replica_noise(model, global_noise, replicas):
    """TensorFlow replicas each see a slice of the global batch: give each the same slice of the noise.

    MirroredStrategy hands replica r the r-th consecutive slice of the batch.
    """
    import tensorflow as tf

    objective = model.compute_objective
    per_replica = GLOBAL_BATCH // replicas

    def sliced(x, y, training=False, noise=None):
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
        return objective(x, y, training=training,
                         noise={k: tf.slice(v, [start, 0], [per_replica, -1]) for k, v in global_noise.items()})

    model.compute_objective = sliced


def _smoke_config(**overrides):
    from cmva_keras.training.config import resolve_config

    settings = {"train.distribute": "data_parallel", "train.steps_per_epoch": 2, "train.batch_size": 8,
                "train.verbose": 0, **overrides}
    return resolve_config("food", "smoke", overrides=[f"{k}={v}" for k, v in settings.items()])


def smoke_resume(workdir, out):
    import keras

    from cmva_keras.training.loop import train

    class Stop(RuntimeError):
        pass

    original = keras.callbacks.BackupAndRestore.on_epoch_end
    stops = {"armed": True}
    ran = []  # the (0-based) epochs that ended, in the attempt under way

    def stop_after_epoch_1(self, epoch, logs=None):
        original(self, epoch, logs)  # the backup of epoch 1 is written first
        ran.append(epoch)
        if epoch == 1 and stops["armed"]:
            raise Stop("simulated stop after epoch 2 (phase 2)")

    keras.callbacks.BackupAndRestore.on_epoch_end = stop_after_epoch_1
    config = _smoke_config(**{"train.validation_fraction": 0.1})
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
    seen["distribution"] = type(keras.distribution.distribution()).__name__  # restored after the run
    with open(out, "w") as f:
        json.dump(seen, f)


def process(address, num_processes, process_id, workdir, out):
    import keras
    import numpy as np

    from cmva_keras.training import distribute
    from cmva_keras.training.loop import train

    distribute.initialize_processes(address, int(num_processes), int(process_id))
    model, _ = train(_smoke_config(), workdir)
    values = {f"{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    np.savez(out, **values)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"step-parity": step_parity, "smoke-resume": smoke_resume, "process": process}[command](*args)
