"""Data-parallel scaling: training steps/s of each task's default model on 1, 2, ... devices.

`python benchmarks/run.py --scaling [--backend jax|tensorflow] [--devices 1,2] [--tasks food,hand]`
runs one process per (task, device count). Each builds the task's default
model (`--variant default`, as `scripts/train.py` would), compiles it as
training does, sets phase 3 (every part trained) and times Keras `fit` on
one random batch of the task's input shape, repeated (the input pipeline is
not measured), with `train.distribute=data_parallel` when there is more than
one device.

Weak scaling: each device keeps the config's batch (`train.batch_size`), so
the global batch of N devices is N times larger; the scaling efficiency is
(examples/s on N devices) / (N x examples/s on 1 device).

Devices: on a machine with NVIDIA GPUs (`nvidia-smi -L` lists them), the
first N GPUs (`CUDA_VISIBLE_DEVICES`); else N virtual CPU devices (JAX:
`--xla_force_host_platform_device_count`; TensorFlow: logical CPU devices),
which share the host's cores: there the figure measures overhead, not
speed-up.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

SCALING_BACKENDS = ("jax", "tensorflow")


def gpu_count():
    """The number of NVIDIA GPUs `nvidia-smi -L` lists (0 without it)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines()) if listed.returncode == 0 else 0


def environment(backend, devices, gpus):
    """The environment of one measurement process: its backend and its `devices`."""
    from cmva_benchmark.launcher import worker_environment

    env = worker_environment(backend)
    env.pop("XLA_FLAGS", None)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(devices))
    else:
        env["CMVA_BENCHMARK_CPU_DEVICES"] = str(devices)
        if backend == "jax":
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def measure(task_name, devices, steps, rounds, warmup_steps):
    """Steps/s of `task_name`'s default model on `devices` devices (runs in the measurement process)."""
    cpu_devices = int(os.environ.get("CMVA_BENCHMARK_CPU_DEVICES", "0"))
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if cpu_devices > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    import tensorflow as tf

    from cmva_keras import tasks
    from cmva_keras.training import distribute
    from cmva_keras.training.config import resolve_config
    from cmva_keras.training.loop import make_optimizer

    config = resolve_config(task_name, "default")
    task = tasks.get(task_name)
    vocabulary = task.vocabulary(task.open_source(config)) or []
    input_shape, target_shape = tuple(task.input_shape(config)), tuple(task.target_shape(vocabulary))
    per_device = int(config.train.batch_size)
    global_batch = per_device * devices
    distribution = distribute.setup("data_parallel" if devices > 1 else "none", global_batch_size=global_batch)
    if distribution.num_replicas != devices:
        raise RuntimeError(f"Asked for {devices} devices, the backend sees {distribution.num_replicas}.")
    rng = np.random.default_rng(0)
    x = rng.random((global_batch,) + input_shape).astype("float32")
    y = (rng.random((global_batch,) + target_shape) > 0.5).astype("float32")
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    keras.utils.set_random_seed(0)
    with distribution.scope():
        model = task.build_model(config, input_shape, target_shape)
        model.build((None,) + input_shape)
        model.compile(optimizer=make_optimizer(config.train), jit_compile=config.train.jit_compile)
        model.set_phase(3)
        # Warm-up (tracing and compilation), then `rounds` timed epochs of `steps` steps.
        model.fit(data, epochs=1, steps_per_epoch=warmup_steps, verbose=0)
        model.fit(data, epochs=rounds, steps_per_epoch=steps, verbose=0, callbacks=[EpochTimer()])
    rates = [steps / t for t in times]
    return {
        "task": task_name, "backend": keras.backend.backend(), "devices": devices,
        "device_kind": "gpu" if os.environ.get("CUDA_VISIBLE_DEVICES") else "virtual cpu",
        "per_device_batch": per_device, "global_batch": global_batch, "steps": steps, "rounds": rounds,
        "steps_per_s": float(np.median(rates)), "rates": rates, "parameters": int(model.count_params()),
    }


def run_scaling(backend, task_names, device_counts, steps=10, rounds=3, warmup_steps=3, timeout=None):
    """One measurement process per (task, device count); returns the results, each a dict."""
    if backend not in SCALING_BACKENDS:
        raise ValueError(f"--scaling measures data-parallel training, which runs on {SCALING_BACKENDS}; "
                         f"got --backend {backend}.")
    gpus = gpu_count()
    if gpus and max(device_counts) > gpus:
        raise ValueError(f"--devices asks for {max(device_counts)} GPUs; this machine has {gpus}.")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for task_name in task_names:
            for devices in device_counts:
                out = os.path.join(tmp, f"{task_name}-{devices}.json")
                arguments = json.dumps([task_name, devices, steps, rounds, warmup_steps])
                command = [sys.executable, "-m", "cmva_benchmark.scaling", arguments, out]
                completed = subprocess.run(command, env=environment(backend, devices, gpus), timeout=timeout)
                if completed.returncode != 0:
                    raise RuntimeError(f"The {task_name} measurement on {devices} devices failed with exit code "
                                       f"{completed.returncode}; its output is above.")
                with open(out) as f:
                    results.append(json.load(f))
    return results


def markdown_table(results, command):
    """The results as a Markdown table (steps/s, examples/s, scaling efficiency against 1 device)."""
    lines = [f"Measured with `{command}`.", "",
             "| task | backend | devices | global batch | steps/s | examples/s | scaling efficiency |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        one = next((o for o in results if o["task"] == r["task"] and o["devices"] == 1), None)
        throughput = r["steps_per_s"] * r["global_batch"]
        efficiency = (f"{throughput / (r['devices'] * one['steps_per_s'] * one['global_batch']):.0%}"
                      if one else "n/a")
        lines.append(f"| {r['task']} | {r['backend']} | {r['devices']} ({r['device_kind']}) | {r['global_batch']} | "
                     f"{r['steps_per_s']:.2f} | {throughput:.1f} | {efficiency} |")
    return "\n".join(lines) + "\n"


def main(argv):
    task_name, devices, steps, rounds, warmup_steps = json.loads(argv[1])
    result = measure(task_name, devices, steps, rounds, warmup_steps)
    with open(argv[2], "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
