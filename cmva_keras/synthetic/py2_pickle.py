"""Writes annotation pickles byte-for-byte the way Python 2 + NumPy wrote them.

RHD's `anno_*.pickle` files come from Python 2: their strings are Python 2
`str` (opcodes `SHORT_BINSTRING`/`BINSTRING`), their arrays are rebuilt through
`numpy.core.multiarray._reconstruct`, and nothing in them refers to Python 3's
`_codecs.encode` (which `pickle.dumps(..., protocol=2)` emits for `bytes` under
Python 3). Writing the synthetic stand-in this way means the loader is tested
on the same opcodes and globals as the real files.

Only what the annotations need is supported: dicts, ints, ASCII strings and
C-contiguous numeric `ndarray`s.
"""

import struct

import numpy as np

_PROTO = b"\x80\x02"
_STOP = b"."
_MARK = b"("
_EMPTY_DICT = b"}"
_SETITEMS = b"u"
_TUPLE = b"t"
_TUPLE1 = b"\x85"
_TUPLE3 = b"\x87"
_REDUCE = b"R"
_BUILD = b"b"
_NONE = b"N"
_NEWFALSE = b"\x89"


def _global(module, name):
    return b"c" + module.encode("ascii") + b"\n" + name.encode("ascii") + b"\n"


def _int(value):
    value = int(value)
    if 0 <= value < 256:
        return b"K" + struct.pack("<B", value)
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def _py2_str(raw):
    """A Python 2 `str` holding `raw` bytes."""
    if len(raw) < 256:
        return b"U" + struct.pack("<B", len(raw)) + raw
    return b"T" + struct.pack("<i", len(raw)) + raw


def _dtype(dtype):
    # numpy 1.x under Python 2: dtype.__reduce__ -> (dtype, ('f4', 0, 1), state)
    code = dtype.kind + str(dtype.itemsize)
    order = "|" if dtype.itemsize == 1 else "<"
    return (
        _global("numpy", "dtype")
        + _py2_str(code.encode("ascii")) + _int(0) + _int(1) + _TUPLE3 + _REDUCE
        + _MARK + _int(3) + _py2_str(order.encode("ascii")) + _NONE + _NONE + _NONE
        + b"J" + struct.pack("<i", -1) + b"J" + struct.pack("<i", -1) + _int(0) + _TUPLE
        + _BUILD
    )


def _array(array):
    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    shape = _MARK + b"".join(_int(d) for d in array.shape) + _TUPLE
    return (
        _global("numpy.core.multiarray", "_reconstruct")
        + _global("numpy", "ndarray") + _int(0) + _TUPLE1 + _py2_str(b"b") + _TUPLE3 + _REDUCE
        + _MARK + _int(1) + shape + _dtype(array.dtype) + _NEWFALSE + _py2_str(array.tobytes()) + _TUPLE
        + _BUILD
    )


def _value(value):
    if isinstance(value, dict):
        body = b"".join(_value(k) + _value(v) for k, v in value.items())
        return _EMPTY_DICT + (_MARK + body + _SETITEMS if value else b"")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("booleans are not used in the annotation pickles")
    if isinstance(value, (int, np.integer)):
        return _int(value)
    if isinstance(value, str):
        return _py2_str(value.encode("ascii"))
    if isinstance(value, np.ndarray):
        return _array(value)
    raise TypeError(f"cannot write {type(value).__name__} as a Python 2 pickle")


def dumps(obj):
    """Serialises `obj` as a protocol-2 pickle with Python 2 semantics (bytes)."""
    return _PROTO + _value(obj) + _STOP
