"""Runs in a fresh process that imports only TensorFlow: loads a SavedModel and
calls its signatures on the inputs in an .npz file; writes the outputs to another .npz."""

import sys

import numpy as np
import tensorflow as tf

# TensorFlow may load keras itself; the project (and its registered classes) must not be needed.
assert "cmva_keras" not in sys.modules


def main(saved_model_dir, inputs_path, outputs_path):
    loaded = tf.saved_model.load(saved_model_dir)
    inputs = np.load(inputs_path, allow_pickle=False)
    outputs = {}
    # A hand model trained with the side as an input takes `hand_side` in every signature.
    side = {"hand_side": tf.constant(inputs["hand_side"])} if "hand_side" in inputs else {}
    serve = loaded.signatures["serving_default"]
    for name, value in serve(images=tf.constant(inputs["images"]), **side).items():
        outputs[f"default/{name}"] = value.numpy()
    serve_bytes = loaded.signatures["serving_bytes"]
    for name, value in serve_bytes(image_bytes=tf.constant(inputs["image_bytes"]), **side).items():
        outputs[f"bytes/{name}"] = value.numpy()
    if "vocabulary" in loaded.signatures:
        names = loaded.signatures["vocabulary"](indices=tf.constant([0, 1], tf.int32))["names"]
        outputs["vocabulary/names"] = names.numpy().astype(str)
    if "serving_mm" in loaded.signatures:
        scale = tf.constant(inputs["scale_mm"])
        result = loaded.signatures["serving_mm"](images=tf.constant(inputs["images"]), scale_mm=scale, **side)
        outputs["mm/pose_3d_mm"] = result["pose_3d_mm"].numpy()
    # Bad input: a rank-3 image batch.
    try:
        serve(images=tf.constant(inputs["images"][0]), **side)
        outputs["bad_rank_error"] = np.array("")
    except Exception as error:  # noqa: BLE001 - the message is what is checked
        outputs["bad_rank_error"] = np.array(str(error)[:2000])
    try:
        serve(images=tf.constant(inputs["images"].astype("float32")), **side)
        outputs["bad_dtype_error"] = np.array("")
    except Exception as error:  # noqa: BLE001
        outputs["bad_dtype_error"] = np.array(str(error)[:2000])
    try:
        serve(images=tf.constant(np.concatenate([inputs["images"], inputs["images"][..., :1]], axis=-1)), **side)
        outputs["bad_channels_error"] = np.array("")
    except Exception as error:  # noqa: BLE001
        outputs["bad_channels_error"] = np.array(str(error)[:2000])
    np.savez(outputs_path, **outputs)


if __name__ == "__main__":
    main(*sys.argv[1:])
