"""RHD's annotations: Python-2 pickles load, crafted pickles are refused before running anything."""

import os
import pickle
import pickletools
import shutil
import subprocess

import numpy as np
import pytest
from dataset_fixtures import fresh_copy

from cmva_keras import datasets
from cmva_keras.datasets import safe_pickle
from cmva_keras.synthetic import py2_pickle


def _annotations(n=3):
    rng = np.random.default_rng(0)
    return {
        i: {
            "xyz": rng.normal(size=(42, 3)).astype(np.float32),
            "uv_vis": rng.normal(size=(42, 3)),
            "K": np.eye(3, dtype=np.float64) * (i + 1),
        }
        for i in range(n)
    }


def test_python2_style_pickle_uses_python2_opcodes_and_numpy_core_global():
    data = py2_pickle.dumps(_annotations())
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    globals_ = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    # Python 2 str objects, never Python 3 unicode/bytes, and no _codecs.encode.
    assert "BINUNICODE" not in ops and "SHORT_BINBYTES" not in ops and "BINBYTES" not in ops
    assert {"SHORT_BINSTRING", "BINSTRING"} & ops
    assert globals_ == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}


def test_python2_style_pickle_loads_like_the_standard_unpickler():
    anno = _annotations()
    data = py2_pickle.dumps(anno)
    reference = pickle.loads(data, encoding="latin1")  # the stock (unsafe) loader, as a reference
    loaded = safe_pickle.load_rhd_annotations(data)
    assert sorted(loaded) == sorted(reference) == [0, 1, 2]
    for i in anno:
        for key in ("xyz", "uv_vis", "K"):
            np.testing.assert_allclose(loaded[i][key], reference[i][key].astype(np.float32))
            np.testing.assert_allclose(loaded[i][key], anno[i][key].astype(np.float32))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_python3_pickle_of_arrays_loads(protocol):
    # Annotations re-saved by Python 3: numpy._core globals; protocol <= 2 stores bytes
    # through _codecs.encode(str, 'latin1').
    anno = _annotations(2)
    anno[1]["empty"] = np.zeros((0,), np.float32)  # empty bytes: builtins.bytes()
    loaded = safe_pickle.load_rhd_annotations(pickle.dumps(anno, protocol=protocol))
    np.testing.assert_array_equal(loaded[1]["K"], anno[1]["K"].astype(np.float32))
    np.testing.assert_array_equal(loaded[0]["xyz"], anno[0]["xyz"])


def test_codecs_encode_is_admitted_for_latin1_only():
    for encoding in ("zlib", "rot13", "base64"):
        data = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX" + bytes([len(encoding), 0, 0, 0]) + encoding.encode() + b"\x86R."
        with pytest.raises(safe_pickle.UnsafePickleError):
            safe_pickle.loads(data)
    ok = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00latin1\x86R."
    assert safe_pickle.loads(ok) == b"abc"


class _Payload:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize(
    "make",
    [
        lambda marker: _Payload(os.system, f"touch {marker}"),
        lambda marker: _Payload(eval, f"open({str(marker)!r}, 'w').close()"),
        lambda marker: _Payload(subprocess.call, ["touch", str(marker)]),
        lambda marker: _Payload(shutil.rmtree, str(marker)),
    ],
    ids=["os.system", "builtins.eval", "subprocess.call", "shutil.rmtree"],
)
def test_crafted_pickle_is_refused_without_running(tmp_path, make, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({0: {"xyz": make(marker)}}, protocol=protocol)
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_pickle.load_rhd_annotations(payload)
    assert not marker.exists()


def test_object_dtype_arrays_are_refused():
    data = pickle.dumps({0: {"xyz": np.array([{"a": 1}, None], dtype=object)}}, protocol=2)
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_pickle.loads(data)


def test_wrong_structure_is_a_value_error():
    with pytest.raises(ValueError, match="'K' must be an array of shape"):
        safe_pickle.load_rhd_annotations(py2_pickle.dumps({0: {"xyz": np.zeros((42, 3)), "uv_vis": np.zeros((42, 3))}}))
    with pytest.raises(ValueError, match="must be a dict"):
        safe_pickle.load_rhd_annotations(py2_pickle.dumps(7))


def test_rhd_builder_refuses_a_crafted_annotation_file(tmp_path):
    folder = fresh_copy("rhd", tmp_path)
    marker = tmp_path / "pwned"
    with open(os.path.join(folder, "training", "anno_training.pickle"), "wb") as f:
        pickle.dump({0: _Payload(os.system, f"touch {marker}")}, f, protocol=2)
    with pytest.raises(safe_pickle.UnsafePickleError, match="anno_training.pickle"):
        datasets.prepare("rhd", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    assert not marker.exists()
