"""The SavedModel's signatures (TensorFlow backend only; see `saved_model.py`)."""

import os
import tempfile

import keras
import tensorflow as tf

from cmva_keras.export import preprocessing


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

    model = keras.models.load_model(model_path, compile=False)
    prepare = preprocessing.serving_preprocessor(config)
    archive = keras.export.ExportArchive()
    archive.track(model)
    images_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
    bytes_spec = tf.TensorSpec([None], tf.string, name="image_bytes")
    scale_spec = tf.TensorSpec([None], tf.float32, name="scale_mm")

    if model.task == "classification":
        threshold = tf.constant(model.threshold, tf.float32)

        def outputs(x):
            probabilities = model(x, training=False)
            return {
                "ingredient_probs": probabilities,
                "ingredients": tf.cast(probabilities > threshold, tf.int32),
            }

        archive.add_endpoint("serving_default", lambda images: outputs(prepare(_check_images(images))), [images_spec])
        archive.add_endpoint("serving_bytes", lambda image_bytes: outputs(_decode(image_bytes, prepare)), [bytes_spec])
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
    else:

        def pose(x):
            return {"pose_3d": model(x, training=False)}

        def pose_mm(x, scale_mm):
            pose_3d = model(x, training=False)
            return {"pose_3d": pose_3d, "pose_3d_mm": pose_3d * scale_mm[:, tf.newaxis, tf.newaxis]}

        archive.add_endpoint("serving_default", lambda images: pose(prepare(_check_images(images))), [images_spec])
        archive.add_endpoint("serving_bytes", lambda image_bytes: pose(_decode(image_bytes, prepare)), [bytes_spec])
        archive.add_endpoint(
            "serving_mm", lambda images, scale_mm: pose_mm(prepare(_check_images(images)), scale_mm),
            [images_spec, scale_spec],
        )
        archive.add_endpoint(
            "serving_bytes_mm", lambda image_bytes, scale_mm: pose_mm(_decode(image_bytes, prepare), scale_mm),
            [bytes_spec, scale_spec],
        )
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists; an exported version is never overwritten.")
    archive.write_out(target, verbose=False)
