"""Test-time preprocessing inside the SavedModel: raw uint8 images to the model's input.

Each task's `serving_preprocessor` (`cmva_keras.tasks`) picks one of these. It
is the evaluation pipeline's transform (no augmentation), so that a served
prediction equals `model.predict` on the evaluation pipeline's images:

- food: resize to `data.image_size` (height, width), then the central
  `data.crop_size` square (`cmva_keras.pipelines.food`);
- hand: the image is a hand crop; resized to `data.image_size` squared
  (`cmva_keras.pipelines.hand`). The keypoint-based crop and re-centring of
  training need 2D keypoints and the camera, which a client does not send.
"""

import tensorflow as tf


def food_eval_images(images, image_size, crop_size):
    """`(B, H, W, 3)` uint8 -> `(B, crop, crop, 3)` float32 in 0..255."""
    height, width = int(image_size[0]), int(image_size[1])
    resized = tf.image.resize(tf.cast(images, tf.float32), (height, width), method="bilinear", antialias=True)
    resized = tf.round(tf.clip_by_value(resized, 0.0, 255.0))  # whole grey levels, as the pipeline keeps them
    top, left = (height - crop_size) // 2, (width - crop_size) // 2
    return resized[:, top : top + crop_size, left : left + crop_size, :]


def hand_eval_images(images, image_size):
    """`(B, H, W, 3)` uint8 hand crops -> `(B, S, S, 3)` float32 in 0..255."""
    size = int(image_size)
    resized = tf.image.resize(tf.cast(images, tf.float32), (size, size), method="bilinear", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)
