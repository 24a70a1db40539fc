"""The SavedModel's signatures (TensorFlow backend only; see `saved_model.py`)."""

import os
import tempfile

import keras
import tensorflow as tf


def _check_images(images):
    """Refuses images without 3 channels before they reach the model.

    The wrong rank or dtype is refused by TensorFlow itself when the signature
    is called ("input must be 4-dimensional", "expected to be a uint8 tensor").
    """
    check = tf.debugging.assert_equal(
        tf.shape(images)[-1], 3, message="images must be uint8 (batch, height, width, 3) with 3 (RGB) channels"
    )
    with tf.control_dependencies([check]):
        return tf.identity(images)


def _decode(image_bytes, prepare):
    """Decodes a batch of JPEG/PNG bytes and prepares each image to the model's input size."""

    def one(data):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return prepare(image[tf.newaxis])[0]

    return tf.map_fn(one, image_bytes, fn_output_signature=tf.float32)


def _endpoint_functions(model, prepare, outputs, num_extra, inputs=None):
    """`(from_images, from_bytes)` for one signature pair; `num_extra` (0 to 2) more inputs go to `outputs`.

    `inputs(images, *extras)`, when given, changes the prepared images before
    the model. Written out per arity: TensorFlow traces endpoints by their
    parameters, so varargs or default arguments would not export.
    """
    def run(images, *extras):
        if inputs is not None:
            images = inputs(images, *extras)
        return outputs(model(images, training=False), *extras)

    if num_extra == 0:
        def from_images(images):
            return run(prepare(_check_images(images)))

        def from_bytes(image_bytes):
            return run(_decode(image_bytes, prepare))
    elif num_extra == 1:
        def from_images(images, extra):
            return run(prepare(_check_images(images)), extra)

        def from_bytes(image_bytes, extra):
            return run(_decode(image_bytes, prepare), extra)
    elif num_extra == 2:
        def from_images(images, extra, second):
            return run(prepare(_check_images(images)), extra, second)

        def from_bytes(image_bytes, extra, second):
            return run(_decode(image_bytes, prepare), extra, second)
    else:
        raise ValueError(f"A task's serving outputs take at most two extra inputs; got {num_extra}.")
    return from_images, from_bytes


def write_saved_model(model_path, config, vocabulary, target):
    """Loads `model_path` under the TF backend and writes the SavedModel to `target`."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("write_saved_model runs under KERAS_BACKEND=tensorflow; use export_workdir.")
    import cmva_keras  # noqa: F401  (registers the model's classes)
    from cmva_keras import tasks

    model = keras.models.load_model(model_path, compile=False)
    task = tasks.get(config["task"])
    prepare = task.serving_preprocessor(config["data"])
    archive = keras.export.ExportArchive()
    archive.track(model)
    images_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
    bytes_spec = tf.TensorSpec([None], tf.string, name="image_bytes")

    # The task names the outputs: one (suffix, extra input specs, outputs) per
    # signature pair "serving_<suffix>" (images) and "serving_bytes_<suffix>".
    for suffix, extra_specs, outputs, *inputs in task.serving_outputs(model, config["data"]):
        names = ("serving_default", "serving_bytes") if not suffix else (f"serving_{suffix}", f"serving_bytes_{suffix}")
        from_images, from_bytes = _endpoint_functions(
            model, prepare, outputs, len(extra_specs), inputs[0] if inputs else None)
        archive.add_endpoint(names[0], from_images, [images_spec, *extra_specs])
        archive.add_endpoint(names[1], from_bytes, [bytes_spec, *extra_specs])
    if vocabulary:
        vocabulary_file = os.path.join(tempfile.mkdtemp(), "vocabulary.txt")
        with open(vocabulary_file, "w") as f:
            f.write("\n".join(vocabulary) + "\n")
        table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                vocabulary_file, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            ),
            default_value="",
        )
        archive.track(table)
        archive.add_endpoint(
            "vocabulary",
            lambda indices: {"names": table.lookup(tf.cast(indices, tf.int64))},
            [tf.TensorSpec([None], tf.int32, name="indices")],
        )
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists; an exported version is never overwritten.")
    archive.write_out(target, verbose=False)
