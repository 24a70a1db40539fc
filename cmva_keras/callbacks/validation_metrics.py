"""`ValidationMetrics`: the task's own metric on validation data, every epoch, on every inference path."""

import keras
import numpy as np


def metric_key(metric, path, primary_path):
    """The log key of `metric` on `path`: `val_<metric>` on the primary path, `val_<path>_<metric>` elsewhere."""
    return f"val_{metric}" if path == primary_path else f"val_{path}_{metric}"


class ValidationMetrics(keras.callbacks.Callback):
    """Adds `val_<metric>` (primary path) and `val_<path>_<metric>` (other paths) to each epoch's logs.

    Keras' `validation_data` already logs the objective's terms on the
    validation examples (`val_loss`, `val_rec_1`, ...). This adds what the
    terms do not say: the task's metrics (food: F1 and IoU per recipe at the
    model's decision threshold; hands: EPE in mm and the PCK AUCs), scored by
    the task's own `score`, as evaluation does. Place it before the callbacks
    that record logs (`HistoryWriter`, `TensorBoard`).

    Args:
        dataset: `(x, y, extras)` batches in a fixed order (the task's
            evaluation pipeline over the validation examples).
        task: the run's `Task` (its `score`).
        paths: inference paths to score (default: all of the model's).
    """

    def __init__(self, dataset, task, paths=None):
        super().__init__()
        self.dataset = dataset
        self.task = task
        self.paths = paths
        self._targets = None  # (y, extras): read once, the validation examples do not change

    def _read_targets(self):
        if self._targets is None:
            ys, extras = [], {}
            for batch in self.dataset:
                ys.append(np.asarray(batch[1]))
                for key, value in (batch[2] if len(batch) > 2 else {}).items():
                    extras.setdefault(key, []).append(np.asarray(value))
            if not ys:
                raise ValueError("The validation data is empty: no example was held out or read. "
                                 "Raise train.validation_fraction, or check the dataset's validation split.")
            self._targets = np.concatenate(ys), {key: np.concatenate(v) for key, v in extras.items()}
        return self._targets

    def scores(self):
        """`{log key: value}` for the current model (scalars only: curves stay in evaluation)."""
        model = self.model
        y, extras = self._read_targets()
        inputs = self.dataset.map(lambda x, *_: x)
        threshold = model.threshold if model.task == "classification" else 0.5
        logs = {}
        for path in tuple(self.paths or model.INFERENCE_PATHS):
            prediction = np.asarray(model.predict(inputs, path=path, verbose=0))
            values = self.task.score(y, prediction, extras, threshold=threshold)
            for name, value in values.items():
                if np.ndim(value) == 0:
                    logs[metric_key(name, path, model.INFERENCE_PATHS[0])] = float(value)
        return logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.scores())
