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
    for suffix, extra_specs, outputs in task.serving_outputs(model):
        names = ("serving_default", "serving_bytes") if not suffix else (f"serving_{suffix}", f"serving_bytes_{suffix}")
        archive.add_endpoint(
            names[0],
            lambda images, *extra, outputs=outputs: outputs(model(prepare(_check_images(images)), training=False), *extra),
            [images_spec, *extra_specs],
        )
        archive.add_endpoint(
            names[1],
            lambda image_bytes, *extra, outputs=outputs: outputs(
                model(_decode(image_bytes, prepare), training=False), *extra
            ),
            [bytes_spec, *extra_specs],
        )
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
