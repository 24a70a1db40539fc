"""Generating and preparing the offline sets: progress bars, summary lines, no spurious warning, no discarded cache."""

import io
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
import tqdm
from dataset_fixtures import SPLITS, TINY, prepared, tiny_folder
from tensorflow_datasets.core.utils import tqdm_utils

from cmva_keras import datasets, progress
from cmva_keras.pipelines import food as food_pipeline
from cmva_keras.synthetic import food, hand


class _Terminal(io.StringIO):
    def isatty(self):
        return True


class _Recorder:
    """Stands in for `progress.bar`: a real tqdm bar, with its total and final count kept."""

    def __init__(self):
        self.bars = []

    def __call__(self, iterable=None, *, total=None, description, unit):
        bar = tqdm.tqdm(iterable, total=total, desc=description, unit=unit, file=io.StringIO(), disable=False)
        self.bars.append(bar)
        return bar

    def summary(self):
        return [(bar.desc, bar.total, bar.n) for bar in self.bars]


@pytest.fixture
def recorder(monkeypatch):
    record = _Recorder()
    monkeypatch.setattr(progress, "bar", record)
    return record


def test_the_bar_shows_on_a_terminal_only(monkeypatch):
    for stream, shown in ((io.StringIO(), False), (_Terminal(), True)):
        monkeypatch.setattr("sys.stderr", stream)
        for _ in progress.bar(range(7), total=7, description="generating things", unit="things"):
            pass
        text = stream.getvalue()
        assert ("generating things" in text and "/7" in text) == shown, text


@pytest.mark.parametrize("generate, expected", [
    (lambda path: food.generate_yummly(path, num_recipes=5), ("generating yummly28k", 5, 5)),
    (lambda path: food.generate_yummly(path, num_recipes=5, workers=2), ("generating yummly28k", 5, 5)),
    (lambda path: hand.generate_rhd(path, num_train=3, num_eval=2), ("generating rhd", 5, 5)),
])
def test_generating_counts_up_to_the_total(tmp_path, recorder, generate, expected):
    generate(str(tmp_path / "set"))
    assert recorder.summary() == [expected]
    assert recorder.bars[0].disable  # closed (tqdm disables a bar it closes)


@pytest.mark.parametrize("name", ["yummly28k", "rhd"])
def test_preparing_counts_every_example_and_logs_a_summary(tmp_path, recorder, caplog, capsys, name):
    source = tiny_folder(name)
    recorder.bars.clear()  # only preparing's bar
    tfds.display_progress_bar(True)  # the user's setting; prepare turns TFDS's bars off and back on
    try:
        with caplog.at_level(logging.INFO):
            builder = datasets.prepare(name, manual_dir=source, data_dir=str(tmp_path / "tfds"))
        assert tqdm_utils._active is True
    finally:
        tfds.disable_progress_bar()
    total = sum(TINY[name].values())
    assert recorder.summary() == [(f"preparing {name}", total, total)]
    assert sum(SPLITS[name].values()) == total
    messages = [r.getMessage() for r in caplog.records]
    counts = ", ".join(f"{split} {n}" for split, n in SPLITS[name].items())
    assert any(m.startswith(f"prepared {name} in ") and m.endswith(f": {counts} examples") for m in messages), messages
    assert not [m for m in messages if "has no dataset_info.json" in m]  # TFDS's warning before a first preparation
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], messages
    assert not [m for m in messages if m.startswith(("Generating dataset", "Done writing"))]  # said by prepare's lines
    assert not [f for f in logging.getLogger("absl").filters if type(f).__name__ == "_TFDSInfo"]  # removed again
    assert "Downloading and preparing" not in capsys.readouterr().out
    recorder.bars.clear()
    assert datasets.prepare(name, manual_dir=source, data_dir=str(tmp_path / "tfds")).data_dir == builder.data_dir
    assert recorder.bars == []  # prepared once: no bar the second time


def test_a_real_dataset_has_a_bar_without_a_total(tmp_path, recorder):
    source = tmp_path / "yummly"
    food.generate_yummly(str(source), num_recipes=TINY["yummly28k"]["num_recipes"])
    os.remove(source / "CMVA_SYNTHETIC.json")  # now it looks downloaded
    recorder.bars.clear()
    datasets.prepare("yummly28k", manual_dir=str(source), data_dir=str(tmp_path / "tfds"))
    assert recorder.summary() == [("preparing yummly28k", None, sum(SPLITS["yummly28k"].values()))]


def _ops(ds):
    graph = tf.compat.v1.GraphDef.FromString(ds._as_serialized_graph().numpy())
    return {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}


def _cached(ds):
    return any(op.startswith("CacheDataset") for op in _ops(ds))


def test_the_splits_are_read_without_a_cache_to_discard():
    builder = prepared("yummly28k")
    assert _cached(builder.as_dataset(split="train"))  # TFDS's default for a small split: an in-memory cache
    assert not _cached(datasets.as_dataset(builder, "train"))
    assert not _cached(datasets.as_dataset(builder, "train", shuffle_files=True, with_ids=True))
    pipeline = food_pipeline.make_dataset(datasets.as_dataset(builder, "train"), training=True, image_size=(60, 90),
                                          crop_size=48, num_classes=3, batch_size=4, seed=0)
    assert not _cached(pipeline)


def test_the_pipeline_gives_the_same_batches_as_with_the_cache():
    builder = prepared("yummly28k")
    decoders = {"image": tfds.decode.SkipDecoding()}
    with_cache = builder.as_dataset(split="train", decoders=decoders, shuffle_files=True)
    assert _cached(with_cache)
    num_classes = len(datasets.vocabulary(builder))

    def batches(split_ds):
        ds = food_pipeline.make_dataset(split_ds, training=True, image_size=(60, 90), crop_size=48,
                                        num_classes=num_classes, batch_size=4, seed=3, deterministic=True)
        return [(x.numpy(), y.numpy()) for _ in range(2) for x, y in ds]  # two epochs: the second from the cache

    expected = batches(with_cache)
    got = batches(datasets.as_dataset(builder, "train", shuffle_files=True))
    assert len(got) == len(expected) == 2 * (SPLITS["yummly28k"]["train"] // 4)
    for (x, y), (x_ref, y_ref) in zip(got, expected):
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_array_equal(y, y_ref)
