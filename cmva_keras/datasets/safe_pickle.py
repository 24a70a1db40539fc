"""A restricted unpickler for RHD's annotation files.

RHD ships its labels as `anno_{training,evaluation}.pickle`, written by Python 2
with NumPy: a dict `sample_id -> {'xyz': (42, 3), 'uv_vis': (42, 3), 'K': (3, 3)}`
of `ndarray`s. Unpickling runs whatever callable the file names, so a crafted
file could run `os.system`. This loader admits only the NumPy reconstruction
callables such a file uses and refuses every other global:

- `numpy.core.multiarray._reconstruct` (also under NumPy 2's `numpy._core`),
  the factory `ndarray.__reduce__` names;
- `numpy.ndarray`, the class handed to `_reconstruct`;
- `numpy.dtype`, rebuilt from `('f4', 0, 1)`-style arguments; object dtypes
  (which could carry arbitrary Python objects) are refused;
- `numpy.core.multiarray.scalar`, NumPy's factory for pickled scalars;
- for files re-saved by Python 3 with protocol <= 2: `_codecs.encode`
  restricted to `(str, 'latin1')` (how such pickles store bytes) and
  `builtins.bytes()` with no argument (how they store an empty bytes).

Python 2 `str` objects (dict keys, raw array bytes) are decoded with
`encoding="latin1"`, the only encoding that round-trips arbitrary bytes and
that NumPy expects when it unpickles Python 2 arrays.
"""

import io
import pickle

import numpy as np

_NUMPY_MODULES = {
    "numpy.core.multiarray": "multiarray",
    "numpy._core.multiarray": "multiarray",
    "numpy": "numpy",
    "_codecs": "_codecs",
    "builtins": "builtins",
    "__builtin__": "builtins",
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global that the restricted loader does not admit."""


def _multiarray():
    try:
        from numpy._core import multiarray  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray
    return multiarray


def _safe_dtype(*args):
    """`numpy.dtype(*args)`, refusing dtypes that hold Python objects."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError(f"refusing object dtype {dtype!r} in a pickle")
    return dtype


def _safe_reconstruct(subtype, shape, dtype_code):
    """`ndarray` reconstruction restricted to plain `numpy.ndarray`."""
    if subtype is not np.ndarray:
        raise UnsafePickleError(f"refusing to reconstruct {subtype!r}")
    return _multiarray()._reconstruct(subtype, shape, dtype_code)


def _safe_scalar(dtype, *args):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"refusing scalar of dtype {dtype!r}")
    return _multiarray().scalar(dtype, *args)


def _latin1_bytes(text, encoding="latin1"):
    """`_codecs.encode` as Python 3 protocol-2 pickles use it: str -> latin-1 bytes only."""
    if not isinstance(text, str) or str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin-1")


def _empty_bytes(*args):
    if args:
        raise UnsafePickleError("refusing bytes() with arguments in a pickle")
    return b""


_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _empty_bytes,
    ("multiarray", "_reconstruct"): _safe_reconstruct,
    ("multiarray", "scalar"): _safe_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` admits only NumPy array rebuilding (see module doc).

    Every other global (`os.system`, `builtins.eval`, `subprocess.Popen`,
    `numpy.load`, ...) raises `UnsafePickleError` before anything is called.
    """

    def find_class(self, module, name):
        key = (_NUMPY_MODULES.get(module), name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        raise UnsafePickleError(
            f"refusing to load global '{module}.{name}': this pickle is not a plain "
            "NumPy annotation file (only numpy ndarray/dtype reconstruction is allowed)"
        )

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing persistent ids in a pickle")


def loads(data):
    """Unpickles `data` (bytes) with `RestrictedUnpickler`, Python-2 strings as latin-1."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def load_rhd_annotations(data):
    """Parses the bytes of an RHD `anno_*.pickle` and checks its structure.

    Args:
        data: the file's bytes.

    Returns:
        dict `int sample_id -> {'xyz': float32 (42, 3) metres, 'uv_vis':
        float32 (42, 3), 'K': float32 (3, 3)}`.

    Raises:
        UnsafePickleError: the file names a global other than NumPy's array
            reconstruction.
        ValueError: the file loads but is not an RHD annotation dict.
    """
    annotations = loads(data)
    if not isinstance(annotations, dict):
        raise ValueError(f"RHD annotations must be a dict, got {type(annotations).__name__}")
    shapes = {"xyz": (42, 3), "uv_vis": (42, 3), "K": (3, 3)}
    checked = {}
    for sample_id, anno in annotations.items():
        if not isinstance(anno, dict):
            raise ValueError(f"RHD sample {sample_id!r}: expected a dict, got {type(anno).__name__}")
        entry = {}
        for key, shape in shapes.items():
            value = anno.get(key)
            if not isinstance(value, np.ndarray) or value.shape != shape:
                raise ValueError(
                    f"RHD sample {sample_id!r}: '{key}' must be an array of shape {shape}, "
                    f"got {getattr(value, 'shape', type(value).__name__)}"
                )
            entry[key] = value.astype(np.float32)
        checked[int(sample_id)] = entry
    return checked
