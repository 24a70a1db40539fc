"""`tf.data` input pipelines of the two tasks, usable from every Keras backend.

- `food.make_dataset`: Yummly-28K / Recipe1M examples -> (images, multi-hot ingredients).
- `hand.make_dataset`: RHD / STB examples -> (hand crops, palm-rooted normalised 3D poses).

Both take a split from `cmva_keras.datasets.load` / `as_dataset`, use stateless
per-example augmentation seeds (`seed`), parallel maps, an optional cache of
the decoded images (`cache`: decoded once, augmented afresh each epoch),
prefetching and an optional deterministic order, and yield float32 images in
[0, 255].
"""

from cmva_keras.pipelines import food, geometry, hand

__all__ = ["food", "geometry", "hand"]
