"""Serving latency of the exported SavedModel, batch 1 and batch 64, for each task.

Runs in one TensorFlow-backend process (`python -m cmva_benchmark.serving
ARGS_JSON OUT_JSON`; the export always runs under TensorFlow, whatever backend
trained the model). For each task: the default model (untrained weights: the
latency does not depend on their values) is saved as a training run would
leave it (`model.keras`, `config.json`, `vocabulary.json`) and exported with
`cmva_keras.export.export_workdir`, the code of `scripts/export.py`. The
SavedModel is loaded with `tf.saved_model.load` and called through
`signatures[...]`, the concrete functions TF Serving runs:

- `serving_bytes`: encoded images (food: the test split's JPEG photos as
  stored; hand: the test pipeline's crops, PNG-encoded, as a client sends
  crops), decoded and preprocessed inside the graph;
- `serving_default`: the same images as uint8 arrays.

Extra inputs (the hand's `hand_side`) are zeros. Each (signature, batch) is
called `warmup` times untimed, then `calls` times; the median and 90th
percentile of the wall time per call are reported (no network, no
serialisation: the model server adds those).
"""

import json
import os
import sys
import tempfile
import time

import numpy as np

BATCHES = (1, 64)
SIGNATURES = ("serving_bytes", "serving_default")


def percentiles(seconds):
    """`{"median_ms", "p90_ms"}` of call times in seconds."""
    ms = np.asarray(seconds, dtype=float) * 1e3
    return {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90))}


def time_calls(function, inputs, calls, warmup):
    """Wall seconds of each of `calls` calls of `function(**inputs)`, after `warmup` untimed ones."""
    for _ in range(warmup):
        function(**inputs)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        outputs = function(**inputs)
        for value in outputs.values():  # the outputs exist (eager tensors are ready when returned)
            value.numpy()
        times.append(time.perf_counter() - start)
    return times


def export_default_model(task_name, workdir, export_dir):
    """Saves `task_name`'s default model as a finished run would and exports it; returns the version folder."""
    import keras

    from cmva_keras import tasks
    from cmva_keras.export import export_workdir
    from cmva_keras.training import run_files
    from cmva_keras.training.config import resolve_config, to_json

    config = resolve_config(task_name, "default")
    task = tasks.get(task_name)
    vocabulary = task.vocabulary(task.open_source(config)) or []
    keras.utils.set_random_seed(config.seed)
    input_shape = tuple(task.input_shape(config))
    model = task.build_model(config, input_shape, tuple(task.target_shape(vocabulary)))
    model.build((None,) + input_shape)
    os.makedirs(workdir, exist_ok=True)
    model.save(os.path.join(workdir, run_files.MODEL))
    with open(os.path.join(workdir, run_files.CONFIG), "w") as f:
        f.write(to_json(config))
    if vocabulary:
        with open(os.path.join(workdir, run_files.VOCABULARY), "w") as f:
            json.dump(list(vocabulary), f)
    return export_workdir(workdir, export_dir), config


def client_images(task_name, config, count):
    """`(encoded bytes (count,), uint8 images (count, H, W, 3))` a client would send for `task_name`."""
    import tensorflow as tf

    from cmva_keras import datasets
    from cmva_keras.training.setup import evaluation_dataset, open_dataset

    if task_name == "food":
        raw = datasets.as_dataset(open_dataset(config), "test").take(count)
        encoded = [example["image"].numpy() for example in raw]
        images = [tf.io.decode_jpeg(e, channels=3).numpy() for e in encoded]
    else:
        crops = np.concatenate([x.numpy() for x, *_ in evaluation_dataset(config, "test").take(
            -(-count // int(config.train.batch_size)))])[:count]
        images = list(np.clip(np.round(crops), 0, 255).astype(np.uint8))
        encoded = [tf.io.encode_png(image).numpy() for image in images]
    while len(encoded) < count:  # a split smaller than the batch: repeat it
        encoded, images = encoded + encoded, images + images
    shapes = {image.shape for image in images}
    if len(shapes) > 1:  # serving_default takes one array: same-size images only
        images = [tf.image.resize(image, images[0].shape[:2]).numpy().astype(np.uint8) for image in images]
    return np.array(encoded[:count], dtype=object), np.stack(images[:count])


def signature_inputs(signature, encoded, images, batch):
    """The keyword inputs of one call of `signature` on the first `batch` images; extra inputs are zeros."""
    import tensorflow as tf

    _, specs = signature.structured_input_signature
    inputs = {}
    for name, spec in specs.items():
        if name == "image_bytes":
            inputs[name] = tf.constant(list(encoded[:batch]), tf.string)
        elif name == "images":
            inputs[name] = tf.constant(images[:batch])
        else:
            inputs[name] = tf.zeros((batch,) + tuple(spec.shape[1:]), spec.dtype)
    return inputs


def measure_serving(task_names, batches=BATCHES, calls=20, warmup=3, log=print):
    """`[{task, signature, batch, median_ms, p90_ms, images_per_s}]` (runs under the TensorFlow backend)."""
    import tensorflow as tf

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task_name in task_names:
            path, config = export_default_model(task_name, os.path.join(tmp, task_name), os.path.join(tmp, "exported"))
            loaded = tf.saved_model.load(path)
            encoded, images = client_images(task_name, config, max(batches))
            for name in SIGNATURES:
                signature = loaded.signatures[name]
                for batch in batches:
                    inputs = signature_inputs(signature, encoded, images, batch)
                    row = dict(task=task_name, signature=name, batch=batch, calls=calls,
                               image_shape=list(images.shape[1:]),
                               **percentiles(time_calls(signature, inputs, calls, warmup)))
                    row["images_per_s"] = batch / (row["median_ms"] / 1e3)
                    rows.append(row)
                    log(f"serving {task_name} {name} batch {batch}: median {row['median_ms']:.1f} ms, "
                        f"p90 {row['p90_ms']:.1f} ms")
    return rows


def run_serving(task_names, batches=BATCHES, calls=20, warmup=3, threads=None, timeout=None):
    """`measure_serving` in a TensorFlow-backend process; returns its rows."""
    import subprocess

    from cmva_benchmark.launcher import worker_environment

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "serving.json")
        arguments = json.dumps({"tasks": list(task_names), "batches": list(batches), "calls": calls,
                                "warmup": warmup})
        command = [sys.executable, "-m", "cmva_benchmark.serving", arguments, out]
        completed = subprocess.run(command, env=worker_environment("tensorflow", threads), timeout=timeout)
        if completed.returncode != 0:
            raise RuntimeError(f"The serving process failed with exit code {completed.returncode}; "
                               "its output is above.")
        with open(out) as f:
            return json.load(f)


def serving_table(rows):
    """Markdown table of `measure_serving` rows."""
    lines = ["| task | signature | input | batch | median (ms) | p90 (ms) | images/s at the median |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        kind = "encoded bytes" if r["signature"] == "serving_bytes" else "uint8 " + "x".join(
            str(s) for s in r["image_shape"])
        lines.append(f"| {r['task']} | `{r['signature']}` | {kind} | {r['batch']} | {r['median_ms']:.1f} | "
                     f"{r['p90_ms']:.1f} | {r['images_per_s']:.0f} |")
    return "\n".join(lines)


def main(argv):
    arguments = json.loads(argv[1])
    rows = measure_serving(arguments["tasks"], batches=tuple(arguments["batches"]), calls=arguments["calls"],
                           warmup=arguments["warmup"], log=lambda message: print(message, flush=True))
    with open(argv[2], "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
