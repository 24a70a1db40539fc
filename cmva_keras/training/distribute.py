"""Data-parallel training (`train.distribute`, `scripts/train.py --distribute`) through each backend's own engine.

`none` trains on one device. `data_parallel` replicates the model on every
local device and splits each global batch (`train.batch_size`) evenly between
them; the gradient of each step is the gradient of the global batch's
objective, so the result matches one device on the same batch, and the
learning rate is the configured one (never rescaled).

- **JAX**: `keras.distribution.DataParallel` over all devices (of every
  process of a multi-process job). Keras shards each batch across the devices
  and, with several processes, gives each process its own share of the
  `tf.data` input (Keras' `distribute_dataset`: each process keeps every
  P-th slice of the global batches). Several processes join one job through
  `initialize_processes` (`keras.distribution.initialize`, i.e.
  `jax.distributed.initialize`) before anything else touches JAX.
- **TensorFlow**: `tf.distribute.MirroredStrategy` over the local devices.
  The model is built, compiled and loaded in its scope; the training step
  divides the objective by the number of replicas, because Keras sums the
  replicas' gradients and scales only its built-in losses.
- **PyTorch**: Keras 3.15's `fit` has no multi-device support on torch;
  `data_parallel` is refused.

Only process 0 writes the workdir. The other processes of a multi-process
job run the same callbacks in a scratch folder of their own, seeded with the
resume state process 0 reads from the workdir (`backup/`, the best-epoch
weights and the JSON records) and sends them, so that every process resumes
from the same epoch with the same weights, whether or not it sees the
workdir. (A "+ Mapper" run's processes read the finished baseline's
`model.keras` themselves: the workdir must then be on a shared filesystem.)

Validation: on one host, each validation batch is split between the devices
like a training batch (the examples cut to a multiple of the device count).
In a multi-process run, every process evaluates the whole validation set on
a local copy of the model, on one of its devices, with the weights of the
epoch's end (`LocalValidation`): every process logs the same `val_*` values
(the terms and the task's metrics), and process 0 writes them. Keras 3.15
cannot do it the sharded way: its per-process sharding of an input
(`rebatch` to the per-process batch, then every P-th slice) gives back the
global batches only when the split is a whole number of global batches
(otherwise the processes get batches of different sizes, or different
numbers of batches), and `predict`, which the task's metrics use, cannot
gather a prediction whose rows live on other processes. The price: each
process validates the whole split (as one device would), and holds a second
copy of the weights.
"""

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile

import keras

KINDS = ("none", "data_parallel")
# The backends whose Keras `fit` can train data-parallel (Keras 3.15).
DATA_PARALLEL_BACKENDS = ("jax", "tensorflow")
# The environment variables `keras.distribution.initialize` reads when its arguments are not given.
ENV_COORDINATOR = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
# What a non-chief process copies from the workdir into its scratch folder to resume like process 0.
RESUME_STATE = ("backup", "*.weights.h5", "*.json")


def check_kind(kind):
    """`kind` if it is one of `KINDS`, else a ValueError naming the choices."""
    if kind not in KINDS:
        raise ValueError(f"Unknown train.distribute {kind!r}: choose one of {', '.join(KINDS)} (--distribute).")
    return kind


def _refuse_backend(backend):
    if backend not in DATA_PARALLEL_BACKENDS:
        raise ValueError(
            f"--distribute data_parallel is not available on the {backend} backend: Keras "
            f"{keras.__version__}'s fit has no multi-device support there. Train data-parallel with "
            f"KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow, or use --distribute none on {backend}."
        )


def initialize_processes(coordinator_address=None, num_processes=None, process_id=None, *, kind="data_parallel",
                         backend=None):
    """Joins this process to a multi-process JAX job; returns `(num_processes, process_id)`.

    Arguments left as None are read from the environment variables Keras
    reads (`KERAS_DISTRIBUTION_JOB_ADDRESSES`, `..._NUM_PROCESSES`,
    `..._PROCESS_ID`). With none of them set (or one process), nothing is
    initialised and `(1, 0)` is returned. Call it before anything else uses
    JAX (before the model or the data is built): `jax.distributed.initialize`
    must run first.

    Raises:
        ValueError: several processes without `data_parallel`, on a backend
            other than JAX, without a coordinator address, or with a process
            id outside `0 .. num_processes - 1`.
    """
    backend = backend or keras.backend.backend()
    coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR) or None
    if num_processes is None and os.environ.get(ENV_NUM_PROCESSES):
        num_processes = int(os.environ[ENV_NUM_PROCESSES])
    if process_id is None and os.environ.get(ENV_PROCESS_ID):
        process_id = int(os.environ[ENV_PROCESS_ID])
    if num_processes is None and process_id is None and coordinator_address is None:
        return 1, 0
    num_processes = 1 if num_processes is None else int(num_processes)
    process_id = 0 if process_id is None else int(process_id)
    if num_processes < 1:
        raise ValueError(f"--num_processes must be at least 1; got {num_processes}.")
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"--process_id {process_id} is out of range for --num_processes {num_processes}: give each process "
            f"of the job its own id from 0 to {num_processes - 1} (0 is the coordinator, which writes the workdir)."
        )
    if num_processes == 1:
        return 1, 0
    if check_kind(kind) != "data_parallel":
        raise ValueError(
            f"--num_processes {num_processes} runs one job over several processes, which only data-parallel "
            "training does: add --distribute data_parallel (or --set train.distribute=data_parallel)."
        )
    if backend != "jax":
        raise ValueError(
            f"Multi-process training (--num_processes {num_processes}) runs on the jax backend only "
            f"(keras.distribution); this is {backend}. Set KERAS_BACKEND=jax, or train on one host "
            "(--num_processes 1)."
        )
    if not coordinator_address or not re.fullmatch(r"[^\s:,]+:\d+", coordinator_address.split(",")[0]):
        raise ValueError(
            f"A {num_processes}-process job needs the coordinator's address as HOST:PORT (process 0's host and "
            f"a free port), the same on every process: --coordinator_address HOST:PORT or ${ENV_COORDINATOR}; "
            f"got {coordinator_address!r}."
        )
    keras.distribution.initialize(coordinator_address, num_processes=num_processes, process_id=process_id)
    return num_processes, process_id


@dataclasses.dataclass
class Distribution:
    """How one run spreads over devices and processes (see `setup`)."""

    kind: str = "none"
    num_replicas: int = 1  # devices each global batch is split over (all processes together)
    num_processes: int = 1
    process_id: int = 0
    engine: object = None  # keras.distribution.DataParallel (JAX) or tf.distribute.MirroredStrategy

    @property
    def is_chief(self):
        """Whether this process writes the workdir (process 0)."""
        return self.process_id == 0

    def scope(self):
        """The context the model must be built, compiled, loaded and trained in."""
        return self.engine.scope() if self.engine is not None else contextlib.nullcontext()

    def describe(self):
        if self.kind == "none":
            return "one device"
        processes = f" in {self.num_processes} processes" if self.num_processes > 1 else ""
        return f"data-parallel over {self.num_replicas} devices{processes}"

    @contextlib.contextmanager
    def process_workdir(self, workdir):
        """The folder this process writes: `workdir` on process 0; elsewhere a scratch copy of its resume state.

        The resume state is the one process 0 reads from `workdir`, sent to
        the other processes (`broadcast_bytes`): every process resumes from
        the same epoch with the same weights, and the others need not see the
        workdir (nor race process 0 writing it). The scratch folder is
        removed afterwards. The other processes run the same callbacks as
        process 0 (which keeps their collective steps in lockstep) without
        writing the shared workdir.
        """
        if self.num_processes > 1:
            state = self.broadcast_bytes(_pack_resume_state(workdir) if self.is_chief else b"")
        if self.is_chief:
            os.makedirs(workdir, exist_ok=True)
            yield workdir
            return
        scratch = tempfile.mkdtemp(prefix=f"cmva-process{self.process_id}-")
        try:
            _unpack_resume_state(state, scratch)
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def broadcast_bytes(self, data):
        """Process 0's `data` (bytes), on every process of the job (every process must call it); `data` with one."""
        if self.num_processes == 1:
            return data
        import numpy as np
        from jax.experimental import multihost_utils

        # The length first (two int32 halves: JAX's default integers are 32-bit), then the bytes.
        length = multihost_utils.broadcast_one_to_all(np.array(divmod(len(data), 2**30), np.int32))
        length = int(length[0]) * 2**30 + int(length[1])
        if length == 0:
            return b""
        payload = np.frombuffer(data, np.uint8) if self.is_chief else np.zeros(length, np.uint8)
        return multihost_utils.broadcast_one_to_all(payload).tobytes()

    def barrier(self, name):
        """Waits until every process reaches this point (multi-process JAX); a no-op otherwise."""
        if self.num_processes > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(name)


@contextlib.contextmanager
def _without_distribution():
    """No `keras.distribution` while it holds: variables and steps live on this process's default device."""
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


class LocalValidation(keras.callbacks.Callback):
    """Validation in a multi-process run: each process evaluates the whole set on a local copy of the model.

    At each epoch's end, the copy (built once, outside the distribution, on
    this process's default device) takes the model's phase and weights, and
    adds to the logs `val_<term>` for every term (as `fit`'s
    `validation_data` would) and, with `metrics`, the task's metrics. Every
    process computes the same values from the same weights and examples; no
    step of the job waits on another process meanwhile.

    Args:
        validation: `(x, y)` batches (the whole validation set, not sharded).
        input_shape: one source input's shape.
        metrics: a `ValidationMetrics` (the task's metrics), or None.
        jit_compile: as the run's `compile`.
    """

    def __init__(self, validation, input_shape, metrics=None, jit_compile="auto"):
        super().__init__()
        self.validation = validation
        self.input_shape = tuple(input_shape)
        self.metrics = metrics
        self.jit_compile = jit_compile
        self.local_model = None

    def _local(self):
        if self.local_model is None:
            model = self.model
            self.local_model = type(model).from_config(model.get_config())
            self.local_model.build((None,) + self.input_shape)
            self.local_model.compile(jit_compile=self.jit_compile)
        return self.local_model

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        with _without_distribution():
            local = self._local()
            local.set_phase(self.model.phase)  # first: set_weights then gives the model's own loss weights
            local.set_weights([keras.ops.convert_to_numpy(v) for v in self.model.weights])
            results = local.evaluate(self.validation, verbose=0, return_dict=True)
            logs.update({f"val_{name}": float(value) for name, value in results.items()})
            if self.metrics is not None:
                self.metrics.set_model(local)
                logs.update(self.metrics.scores())


def _pack_resume_state(workdir):
    """The files of `workdir` that `RESUME_STATE` names, as a tar archive (bytes); b"" when there are none."""
    import glob
    import io
    import tarfile

    paths = [path for pattern in RESUME_STATE for path in sorted(glob.glob(os.path.join(glob.escape(workdir), pattern)))]
    if not paths:
        return b""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in paths:
            archive.add(path, arcname=os.path.basename(path))
    return buffer.getvalue()


def _unpack_resume_state(state, folder):
    import io
    import tarfile

    if state:
        with tarfile.open(fileobj=io.BytesIO(state)) as archive:
            archive.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def setup(kind, *, global_batch_size, backend=None):
    """The run's `Distribution` for `kind` (one of `KINDS`) and the global batch `train.batch_size`.

    Call it before the model is built. `data_parallel` uses every local
    device (and, on JAX, every process's devices, see `initialize_processes`).

    Raises:
        ValueError: an unknown kind, `data_parallel` on PyTorch, or a global
            batch that does not divide evenly between the devices.
    """
    backend = backend or keras.backend.backend()
    if check_kind(kind) == "none":
        return Distribution()
    _refuse_backend(backend)
    if backend == "jax":
        import jax

        devices = keras.distribution.list_devices()
        engine = keras.distribution.DataParallel(devices=devices)
        distribution = Distribution(kind, len(devices), jax.process_count(), jax.process_index(), engine)
    else:
        import tensorflow as tf

        engine = tf.distribute.MirroredStrategy()
        distribution = Distribution(kind, int(engine.num_replicas_in_sync), 1, 0, engine)
    global_batch_size = int(global_batch_size)
    if global_batch_size % distribution.num_replicas:
        fits = distribution.num_replicas * max(1, round(global_batch_size / distribution.num_replicas))
        raise ValueError(
            f"train.batch_size={global_batch_size} is the global batch and must divide evenly between the "
            f"{distribution.num_replicas} devices of --distribute data_parallel: set a multiple of "
            f"{distribution.num_replicas}, e.g. --set train.batch_size={fits} (the learning rate is not changed "
            "with it: set train.learning_rate too if you want it scaled)."
        )
    return distribution
