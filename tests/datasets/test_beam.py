"""Apache Beam preparation (the `beam` extra): the same examples, split sizes and skip counts as the default path.

The default-prepared and the Beam-prepared copies of each tiny native-format
folder (dataset_fixtures) are compared example by example: every feature of
every example of every split, matched by the example's own id, and the
serialized records themselves. The Beam tests need apache-beam, which
`scripts/install.sh` (and so CI) installs; the bad-input tests do not.
"""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from dataset_fixtures import SPLITS, fresh_copy, prepared, tiny_folder

from cmva_keras import datasets
from cmva_keras.datasets import builder_base

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IN_PROCESS = "direct_num_workers=1"  # DirectRunner, in memory, one worker: the fastest Beam run
# Each example's own id (the builders' keys are made of them).
EXAMPLE_ID = {
    "yummly28k": ("recipe_id",),
    "recipe1m": ("recipe_id",),
    "rhd": ("sample_id",),
    "stb": ("sequence", "frame"),
}


@pytest.fixture
def beam():
    # CI installs apache-beam (scripts/install.sh installs the `beam` extra), so these tests run there.
    return pytest.importorskip("apache_beam")


def _examples(builder, split):
    """`{example id: example}` of a split, decoded (images as pixels)."""
    read_config = tfds.ReadConfig(try_autocache=False)
    examples = {}
    for example in tfds.as_numpy(builder.as_dataset(split=split, read_config=read_config)):
        key = tuple(np.asarray(example[k]).item() for k in EXAMPLE_ID[builder.name])
        assert key not in examples, f"{builder.name}/{split}: two examples with id {key}"
        examples[key] = example
    return examples


def _records(builder, split):
    """The split's records as `tf.train.Example`s, each serialized with its feature map sorted, sorted.

    The writers may order and shard the records differently, and protobuf
    writes a map's entries in an order that varies from process to process
    (Beam's worker processes), hence the deterministic re-serialization.
    """
    files = sorted(glob.glob(os.path.join(builder.data_dir, f"{builder.name}-{split}.tfrecord-*")))
    assert files, f"no record files for {builder.name}/{split} in {builder.data_dir}"
    return sorted(tf.train.Example.FromString(record.numpy()).SerializeToString(deterministic=True)
                  for record in tf.data.TFRecordDataset(files))


def _other_files(builder):
    """The prepared folder's files other than the records (which the two writers may shard differently)."""
    files = sorted(f for f in os.listdir(builder.data_dir) if ".tfrecord-" not in f)
    assert "dataset_info.json" in files, files
    return files


def _assert_same_feature(got, expected, where):
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), where
        for key in expected:
            _assert_same_feature(got[key], expected[key], f"{where}/{key}")
        return
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape, (where, got.dtype, got.shape, expected.dtype,
                                                                         expected.shape)
    np.testing.assert_array_equal(got, expected, err_msg=where)


def assert_same_dataset(beam_built, default):
    """Same splits and sizes, same examples feature by feature, same records, same metadata and description."""
    assert list(beam_built.info.splits) == list(default.info.splits)
    for split, info in default.info.splits.items():
        assert beam_built.info.splits[split].num_examples == info.num_examples, split
        expected, got = _examples(default, split), _examples(beam_built, split)
        assert len(expected) == info.num_examples
        assert sorted(got) == sorted(expected), split
        for key, example in expected.items():
            _assert_same_feature(got[key], example, f"{default.name}/{split}/{key}")
        assert _records(beam_built, split) == _records(default, split), split
    assert not glob.glob(os.path.join(beam_built.data_dir, "beam-items-*"))  # the work items' files are removed
    assert _other_files(beam_built) == _other_files(default)
    assert dict(beam_built.info.metadata) == dict(default.info.metadata)
    assert beam_built.info.description == default.info.description
    if "ingredients" in default.info.features:
        assert datasets.vocabulary(beam_built) == datasets.vocabulary(default)


@pytest.mark.parametrize("name", ["yummly28k", "recipe1m", "rhd", "stb"])
def test_beam_prepares_the_same_examples_as_the_default(beam, tmp_path, name):
    default = prepared(name)
    built = datasets.prepare(name, manual_dir=tiny_folder(name), data_dir=str(tmp_path / "beam"),
                             beam_options=IN_PROCESS)
    assert {split: info.num_examples for split, info in built.info.splits.items()} == SPLITS[name]
    assert_same_dataset(built, default)
    reloaded = datasets.prepare(name, manual_dir=tiny_folder(name), data_dir=str(tmp_path / "beam"))
    assert reloaded.info.metadata["skipped_examples"] == {split: {} for split in SPLITS[name]}


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    _write(path, data[: len(data) // 2])


def _damage_yummly28k(folder):
    images = os.path.join(folder, "images27638")
    _write(os.path.join(images, "img00003.jpg"), b"\xff\xd8\xff\xe0 this is not a JPEG")
    _truncate(os.path.join(images, "img00007.jpg"))
    os.remove(os.path.join(images, "img00011.jpg"))
    _write(os.path.join(folder, "metadata27638", "meta00005.json"), b"{not json")  # read before the pipeline
    return {"bad image": 3, "bad metadata": 1}


def _damage_recipe1m(folder):
    with open(os.path.join(folder, "layer1.json"), encoding="utf-8") as f:
        train_ids = [r["id"] for r in json.load(f) if r["partition"] == "train"]
    with open(os.path.join(folder, "layer2.json"), encoding="utf-8") as f:
        images = {r["id"]: [im["id"] for im in r["images"]] for r in json.load(f)}
    only, second = images[train_ids[0]], images[train_ids[1]][1]  # recipe 0 has one image, recipe 1 two
    assert len(only) == 1
    for bad in (only[0], second):
        _write(os.path.join(folder, "images", "train", *bad[:4], bad), b"\xff\xd8\xff\xe0 not a JPEG")
    return {"bad image": 2, "recipe without a readable image": 1}


def _damage_rhd(folder):
    _truncate(os.path.join(folder, "training", "mask", "00004.png"))
    _write(os.path.join(folder, "evaluation", "color", "00001.png"), b"\x89PNG garbage")
    return {"bad image": 2}


def _damage_stb(folder):
    from scipy import io as scipy_io

    path = os.path.join(folder, "labels", "B2Counting_BB.mat")
    hand_para = scipy_io.loadmat(path)["handPara"]
    hand_para[:, :, 0] = 0.0  # every joint at the camera centre: an unusable label
    scipy_io.savemat(path, {"handPara": hand_para})
    _write(os.path.join(folder, "images", "B1Random", "BB_left_1.png"), b"\x89PNG garbage")
    return {"bad label": 1, "bad image": 1}


DAMAGE = {"yummly28k": _damage_yummly28k, "recipe1m": _damage_recipe1m, "rhd": _damage_rhd, "stb": _damage_stb}


def _reasons(report):
    totals = {}
    for reasons in report.values():
        for reason, count in reasons.items():
            totals[reason] = totals.get(reason, 0) + count
    return totals


def _prepare_damaged_both_ways(name, tmp_path, beam_options):
    folder = fresh_copy(name, tmp_path)
    expected = DAMAGE[name](folder)
    default = datasets.prepare(name, manual_dir=folder, data_dir=str(tmp_path / "default"))
    built = datasets.prepare(name, manual_dir=folder, data_dir=str(tmp_path / "beam"), beam_options=beam_options)
    assert _reasons(default.info.metadata["skipped_examples"]) == expected
    assert built.info.metadata["skipped_examples"] == default.info.metadata["skipped_examples"]
    return default, built


@pytest.mark.parametrize("name", ["yummly28k", "recipe1m", "rhd", "stb"])
def test_beam_skips_and_counts_the_same_corrupt_files(beam, tmp_path, monkeypatch, name):
    monkeypatch.setattr(builder_base, "ITEMS_PER_FILE", 5)  # several files of work items per split
    default, built = _prepare_damaged_both_ways(name, tmp_path, IN_PROCESS)
    assert sum(info.num_examples for info in built.info.splits.values()) < sum(SPLITS[name].values())
    assert_same_dataset(built, default)
    assert "Skipped while building" in built.info.description
    reloaded = tfds.builder(name, data_dir=str(tmp_path / "beam"))
    assert reloaded.info.metadata["skipped_examples"] == default.info.metadata["skipped_examples"]
    assert "Skipped while building" in reloaded.info.description  # also after reloading (from metadata.json)


@pytest.mark.slow  # two worker processes, each loading TensorFlow: 15-30 s on 2 cores
def test_two_beam_worker_processes_give_the_same_dataset_and_counts(beam, tmp_path, monkeypatch):
    # The counters are incremented in two worker processes and summed by the runner.
    monkeypatch.setattr(builder_base, "ITEMS_PER_FILE", 3)
    default, built = _prepare_damaged_both_ways("rhd", tmp_path, "direct_running_mode=multi_processing,"
                                                                 "direct_num_workers=2")
    assert default.info.metadata["skipped_examples"] == {"train": {"bad image": 1}, "test": {"bad image": 1}}
    assert_same_dataset(built, default)


def test_beam_options_parse_like_tfds_build(beam):
    options = datasets.beam_pipeline_options(" direct_running_mode=multi_processing, --direct_num_workers=2,")
    assert options.get_all_options()["direct_running_mode"] == "multi_processing"
    assert options.get_all_options()["direct_num_workers"] == 2
    dataflow = datasets.beam_pipeline_options(
        "runner=DataflowRunner,project=my-project,region=europe-west4,temp_location=gs://bucket/tmp,"
        "extra_package=dist/cmva_keras-0.1.0-py3-none-any.whl")
    assert {k: dataflow.get_all_options()[k] for k in ("runner", "project", "region", "temp_location")} == {
        "runner": "DataflowRunner", "project": "my-project", "region": "europe-west4",
        "temp_location": "gs://bucket/tmp"}
    assert dataflow.get_all_options()["extra_packages"] == ["dist/cmva_keras-0.1.0-py3-none-any.whl"]
    flink = datasets.beam_pipeline_options("runner=FlinkRunner,flink_master=localhost:8081,environment_type=LOOPBACK")
    assert flink.get_all_options()["flink_master"] == "localhost:8081"
    spark = datasets.beam_pipeline_options("runner=SparkRunner,spark_master_url=spark://host:7077")
    assert spark.get_all_options()["spark_master_url"] == "spark://host:7077"
    assert options.get_all_options()["default_sdk_harness_log_level"] == "WARNING"  # added unless given
    chatty = datasets.beam_pipeline_options("direct_num_workers=2,default_sdk_harness_log_level=DEBUG")
    assert chatty.get_all_options()["default_sdk_harness_log_level"] == "DEBUG"
    assert datasets.beam_pipeline_options(options) is options
    assert datasets.beam_pipeline_options(None) is None and datasets.beam_pipeline_options(" ") is None


@pytest.mark.parametrize("options, message", [
    ("direct_num_wrokers=2", "unknown Beam option(s) ['direct_num_wrokers']"),
    ("direct num workers=2", "is not NAME=VALUE"),
    ("direct_running_mode=many_threads", "invalid Beam options"),
])
def test_bad_beam_options_are_refused_before_preparing(beam, tmp_path, options, message):
    with pytest.raises(ValueError) as info:
        datasets.prepare("rhd", manual_dir=tiny_folder("rhd"), data_dir=str(tmp_path / "tfds"), beam_options=options)
    assert message in str(info.value)
    assert not (tmp_path / "tfds").exists()


def test_dataflow_needs_cloud_storage_paths(beam, tmp_path):
    options = "runner=DataflowRunner,project=p,region=europe-west4,temp_location=gs://bucket/tmp"
    with pytest.raises(ValueError) as info:
        datasets.prepare("recipe1m", manual_dir=tiny_folder("recipe1m"), data_dir="gs://bucket/tfds",
                         beam_options=options)
    assert "must be Cloud Storage paths" in str(info.value) and "manual_dir=" in str(info.value)
    assert "data_dir=" not in str(info.value)
    with pytest.raises(ValueError, match="data_dir=None"):
        datasets.prepare("recipe1m", manual_dir="gs://bucket/recipe1M", beam_options=options)


def _without_beam(monkeypatch):
    """Makes `import apache_beam` fail as it does where the extra is not installed."""
    for module in [m for m in sys.modules if m == "apache_beam" or m.startswith("apache_beam.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "apache_beam", None)


def test_beam_options_without_apache_beam_name_the_fix(monkeypatch, tmp_path):
    _without_beam(monkeypatch)
    with pytest.raises(datasets.BeamNotInstalledError) as info:
        datasets.prepare("rhd", manual_dir=tiny_folder("rhd"), data_dir=str(tmp_path / "tfds"),
                         beam_options="direct_num_workers=2")
    message = str(info.value)
    assert "apache-beam is not installed" in message and "pip install 'cmva-keras[beam]'" in message
    assert "-e '.[beam]'" in message
    assert not (tmp_path / "tfds").exists()
    # Without Beam options nothing needs apache-beam: the default path still prepares.
    builder = datasets.prepare("rhd", manual_dir=tiny_folder("rhd"), data_dir=str(tmp_path / "tfds"))
    assert builder.info.splits["train"].num_examples == SPLITS["rhd"]["train"]


def _script(*args, without_beam=False):
    code = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); "
            + ("sys.modules['apache_beam'] = None; " if without_beam else "")
            + "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    return subprocess.run(
        [sys.executable, "-c", code, os.path.join(ROOT, "scripts"), os.path.join(ROOT, "scripts", "prepare_data.py"),
         *args], capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, timeout=300)


@pytest.mark.slow
def test_the_script_prepares_with_beam_and_reports_the_skips(beam, tmp_path):
    folder = fresh_copy("stb", tmp_path)
    _damage_stb(folder)
    result = _script("--dataset", "stb", "--manual_dir", folder, "--data_dir", str(tmp_path / "tfds"),
                     "--beam_pipeline_options", IN_PROCESS)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith(f"stb 1.0.0 in {tmp_path / 'tfds'}")
    assert ": train 19, test 3 examples; skipped examples: test 1 (1 bad image); train 1 (1 bad label)" in line, line
    again = _script("--dataset", "stb", "--manual_dir", folder, "--data_dir", str(tmp_path / "tfds"),
                    "--beam_pipeline_options", "direct_num_workers=1", without_beam=True)
    assert again.returncode == 1
    assert "pip install 'cmva-keras[beam]'" in again.stderr, again.stderr
