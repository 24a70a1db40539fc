"""`quiet_tensorflow()`: the scripts hide TensorFlow's C++ start-up lines unless asked for them.

Loading TensorFlow prints lines a user can do nothing about:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... port.cc:153] oneDNN custom operations are on. You may see slightly ...
    I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...

and later INFO lines from its C++ runtime (tf.data's buffer sizes, ...). It
happens on every backend: JAX and PyTorch runs load TensorFlow too, for
`tf.data` and TFDS.

`TF_CPP_MIN_LOG_LEVEL=1` hides the INFO lines, but TensorFlow 2.21 reads it
too late for the oneDNN line and the absl banner: they are written while
its shared libraries load, before the variable is applied
(tensorflow/tensorflow#100442). So `quiet_tensorflow()` sets the variable
and then imports TensorFlow itself with file descriptor 2 sent to a
temporary file, and writes back every captured line except the banner and
the absl-format lines below that level. It must therefore run before
anything imports TensorFlow.

Why this module sits beside the scripts and not in `cmva_keras`: importing
any `cmva_keras.<module>` first runs `cmva_keras/__init__.py`, which loads
TensorFlow (TFDS, the pipelines, the models). Only a module outside the
package can run before that. It uses the standard library (and absl's
already-parsed flags) only.

Nothing is hidden when the user asks for it:
- `TF_CPP_MIN_LOG_LEVEL` or `TF_CPP_MAX_VLOG_LEVEL` set in the environment:
  left alone (TensorFlow's standard variables);
- `--verbosity N` (`-v N`, absl's flag) with N >= 0 (INFO or more): every
  line, `TF_CPP_MIN_LOG_LEVEL=0` (set explicitly: JAX, which TensorFlow
  loads, would otherwise default it to 1); N < 0 (-1 WARNING, -2 ERROR,
  -3 FATAL) hides TensorFlow's C++ lines below that level
  (`TF_CPP_MIN_LOG_LEVEL=-N`).
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

USER_VARIABLES = ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL")
DEFAULT_LEVEL = 1  # TF_CPP_MIN_LOG_LEVEL: hide INFO; warnings and errors still show
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITIES = "IWEF"  # absl's severity letters, the index is TF_CPP_MIN_LOG_LEVEL's scale
_LOG_LINE = re.compile(r"^([IWEF])\d{4} ")  # absl's prefix: "I0000 00:00:1796... 7809 port.cc:153] ..."
_VERBOSITY_FLAGS = ("--verbosity", "-verbosity", "--v", "-v")
# Python loggers whose INFO start-up lines say nothing actionable ("Unable to initialize backend 'tpu'").
_QUIET_LOGGERS = ("jax._src.xla_bridge",)


def quiet_tensorflow(verbosity=None):
    """Hides TensorFlow's C++ start-up lines unless the user asked for them; call before TensorFlow loads.

    Args:
        verbosity: absl's verbosity (0 INFO, 1 DEBUG, -1 WARNING, ...); default
            the `--verbosity` flag when given (absl's parsed flags, else
            `sys.argv`), else none.

    Returns:
        the `TF_CPP_MIN_LOG_LEVEL` it set (0 shows everything), or None when
        the user set one of TensorFlow's variables.
    """
    if any(name in os.environ for name in USER_VARIABLES):
        return None
    if verbosity is None:
        verbosity = requested_verbosity()
    level = DEFAULT_LEVEL if verbosity is None else min(3, max(0, -verbosity))
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(level)  # also for child processes
    if level == 0:
        return level
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if "tensorflow" not in sys.modules:
        with _stderr_filtered(lambda line: shown(line, level)):
            import tensorflow  # noqa: F401
    return level


def requested_verbosity(argv=None):
    """The `--verbosity`/`-v` value the command line gives, or None when it gives none (or not a number)."""
    try:
        from absl import flags

        if flags.FLAGS.is_parsed():
            return flags.FLAGS.verbosity if flags.FLAGS["verbosity"].present else None
    except (ImportError, KeyError):
        pass
    argv = sys.argv[1:] if argv is None else argv
    value = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        name, equals, text = arg.partition("=")
        if name in _VERBOSITY_FLAGS:
            text = text if equals else (argv[i + 1] if i + 1 < len(argv) else "")
            try:
                value = int(text)
            except ValueError:
                pass
    return value


def shown(line, level):
    """False for the absl banner and for absl-format lines of a severity below `level` (0 INFO ... 3 FATAL)."""
    if line.rstrip("\r\n") == BANNER:
        return False
    match = _LOG_LINE.match(line)
    return match is None or _SEVERITIES.index(match.group(1)) >= level


@contextlib.contextmanager
def _stderr_filtered(keep):
    """Runs the block with file descriptor 2 captured, then writes back the captured lines `keep` accepts.

    The capture is at the descriptor, not `sys.stderr`, because the lines come
    from C++. Lines are written back in order once the block ends (also when
    it raises).
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to capture
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if keep(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
