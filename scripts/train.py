"""Trains CMVA (or a baseline, or a baseline "+ Mapper") through its phases and writes the run to a workdir.

  KERAS_BACKEND=jax python scripts/train.py --task food
  python scripts/train.py --task food --method cmvae            # CM-VAE (Spurr et al.)
  python scripts/train.py --task food --method cadavae --mapper # CADA-VAE + Mapper
  python scripts/train.py --config my_config.py --workdir runs/mine
  python scripts/train.py --task hand --variant smoke --workdir /tmp/hand
  python scripts/train.py --task food --dataset yummly28k --manual_dir ~/data/yummly28k \
      --set train.batch_size=64 --set model.latent_dim=512
  python scripts/train.py --task food --distribute data_parallel  # every local GPU (jax, tensorflow)
  # A 2-host JAX job: the same command on each host, with its own --process_id.
  KERAS_BACKEND=jax python scripts/train.py --task food --distribute data_parallel \
      --coordinator_address host0:1234 --num_processes 2 --process_id 0

The workdir receives config.json, history.json, phase_1.keras, phase_2.keras,
phase_3.keras and model.keras (see cmva_keras/training/loop.py). Running the
same command again resumes an interrupted run.
"""

import os
import sys

from absl import app, flags, logging
from quiet import quiet_tensorflow  # scripts/quiet.py

flags.DEFINE_string("task", None, "Which task: food (ingredients) or hand (3D pose), or a registered task of yours.")
flags.DEFINE_string("config", None, "A config file (.py with get_config(variant)) instead of --task's shipped config.")
flags.DEFINE_string("method", None, "cmva (default), cmvae (CM-VAE) or cadavae (CADA-VAE).")
flags.DEFINE_bool("mapper", None, "Baselines: \"+ Mapper\", a mapper trained on the frozen, finished baseline.")
flags.DEFINE_string("base_workdir", None, "With --mapper: a finished baseline run to reuse (default: train one first).")
flags.DEFINE_string("variant", "default", "Config variant: default, smoke or paper (see configs/<task>.py).")
flags.DEFINE_string("workdir", None, "Output folder; default workdirs/<task>-<variant>.")
flags.DEFINE_string("dataset", None, "Dataset: synthetic (default), yummly28k, recipe1m (food); rhd, stb (hand).")
flags.DEFINE_string("manual_dir", None, "Folder of the downloaded real dataset (TFDS manual_dir).")
flags.DEFINE_string("data_dir", None, "Where TFDS keeps prepared data (default: the cache folder).")
flags.DEFINE_multi_string("set", [], "Config override KEY=VALUE, repeatable (e.g. --set train.batch_size=16).")
flags.DEFINE_enum("distribute", None, ["none", "data_parallel"],
                  "none: one device; data_parallel: all local devices (jax, tensorflow), train.batch_size being "
                  "the global batch (default: the config's train.distribute).")
flags.DEFINE_string("coordinator_address", None, "Multi-process JAX: process 0's HOST:PORT, the same on every process "
                    "(default: $KERAS_DISTRIBUTION_JOB_ADDRESSES).")
flags.DEFINE_integer("num_processes", None, "Multi-process JAX: the number of processes of the job "
                     "(default: $KERAS_DISTRIBUTION_NUM_PROCESSES, else 1).")
flags.DEFINE_integer("process_id", None, "Multi-process JAX: this process's id, 0 .. num_processes - 1; process 0 "
                     "writes the workdir (default: $KERAS_DISTRIBUTION_PROCESS_ID).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    quiet_tensorflow()  # first: hides TensorFlow's C++ start-up lines (--verbosity 0 shows them)
    from cmva_keras.callbacks import NonFiniteLossError
    from cmva_keras.training import distribute
    from cmva_keras.training.config import default_run_name, resolve_config
    from cmva_keras.training.loop import train

    if bool(FLAGS.task) == bool(FLAGS.config):
        raise app.UsageError("Pass --task food|hand, or --config FILE.py (one of the two).")
    overrides = list(FLAGS.set) + ([f"base_workdir={FLAGS.base_workdir}"] if FLAGS.base_workdir else [])
    overrides += [f"train.distribute={FLAGS.distribute}"] if FLAGS.distribute else []
    try:
        config = resolve_config(
            FLAGS.config or FLAGS.task, FLAGS.variant, dataset=FLAGS.dataset, manual_dir=FLAGS.manual_dir,
            data_dir=FLAGS.data_dir, method=FLAGS.method, mapper=FLAGS.mapper, overrides=overrides,
        )
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    try:
        # A multi-process JAX job joins here, before the data or the model touches a device.
        distribute.initialize_processes(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id,
                                        kind=config.train.get("distribute", "none"))
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    workdir = FLAGS.workdir or os.path.join("workdirs", default_run_name(config))
    try:
        train(config, workdir)
    except (NonFiniteLossError, FileNotFoundError, ValueError) as error:
        logging.error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
