"""Compares the methods over several seeds in the layout of the paper's Table 1 (food) or Table 3 (hands).

  KERAS_BACKEND=jax python scripts/compare.py --task food --seeds 3
  python scripts/compare.py --task hand --seeds 3 --methods cmva,cmvae
  python scripts/compare.py --task food --variant smoke --seeds 2 --workdir /tmp/food-compare
  python scripts/compare.py --task food --variant paper --dataset yummly28k --manual_dir ~/data/yummly28k

For each seed s in 0..N-1 and method it trains <workdir>/<method>[-mapper]/seed<s>
(or reuses a finished run there), evaluates it with and without test-time
augmentation, and writes comparison.md (mean ± standard deviation over the
seeds, the paper's numbers beside), comparison.json (every seed's numbers)
and comparison.png into --workdir. Running the same command again trains and
evaluates only what is missing. See cmva_keras/comparison.py.
"""

import os
import shlex
import sys

from absl import app, flags, logging
from quiet import quiet_tensorflow  # scripts/quiet.py

flags.DEFINE_string("task", None, "Which task: food (Table 1) or hand (Table 3), or a registered task of yours.")
flags.DEFINE_integer("seeds", 3, "Number of seeds per method (0..N-1); the table shows mean ± std over them.")
flags.DEFINE_string("variant", "default", "Config variant: default, smoke or paper (see configs/<task>.py).")
flags.DEFINE_string("methods", "cmva,cmvae,cadavae", "Comma-separated methods: cmva, cmvae (CM-VAE), cadavae (CADA-VAE).")
flags.DEFINE_bool("mapper", True, "Also the baselines \"+ Mapper\" (a mapper on each frozen, finished baseline run).")
flags.DEFINE_string("workdir", None, "The comparison folder; default workdirs/<task>-compare-<variant>.")
flags.DEFINE_string("dataset", None, "Dataset: synthetic (default), yummly28k, recipe1m (food); rhd, stb (hand).")
flags.DEFINE_string("manual_dir", None, "Folder of the downloaded real dataset (TFDS manual_dir).")
flags.DEFINE_string("data_dir", None, "Where TFDS keeps prepared data (default: the cache folder).")
flags.DEFINE_integer("max_examples", None, "Evaluate each run on at most this many test examples.")
flags.DEFINE_bool(
    "calibrate_threshold", False,
    "Classification: choose each run's decision threshold on its training split before evaluating "
    "(saved into its model.keras).",
)
flags.DEFINE_bool("plots", False, "Also write each run's evaluation figures (t-SNE, ...).")
flags.DEFINE_multi_string("set", [], "Config override KEY=VALUE for every run, repeatable (e.g. --set train.batch_size=16).")
flags.mark_flag_as_required("task")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    quiet_tensorflow()  # first: hides TensorFlow's C++ start-up lines (--verbosity 0 shows them)
    from cmva_keras import comparison
    from cmva_keras.callbacks import NonFiniteLossError

    try:
        comparison.run_keys(FLAGS.methods, FLAGS.mapper)  # an unknown method fails before any work
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    try:
        summary = comparison.compare(
            FLAGS.task, seeds=FLAGS.seeds, variant=FLAGS.variant, workdir=FLAGS.workdir, methods=FLAGS.methods,
            mapper=FLAGS.mapper, dataset=FLAGS.dataset, manual_dir=FLAGS.manual_dir, data_dir=FLAGS.data_dir,
            overrides=FLAGS.set, max_examples=FLAGS.max_examples, plots=FLAGS.plots, command=command,
            calibrate=FLAGS.calibrate_threshold,
        )
    except (NonFiniteLossError, FileNotFoundError, ValueError) as error:
        logging.error("%s", error)
        sys.exit(1)
    workdir = summary["workdir"]
    with open(os.path.join(workdir, comparison.MARKDOWN)) as f:
        print(f.read())
    print(f"Trained {len(summary['trained'])} runs, evaluated {len(summary['evaluated'])} times; "
          f"wrote {comparison.MARKDOWN}, {comparison.SUMMARY} and {comparison.CHART} in {workdir}.")


if __name__ == "__main__":
    app.run(main)
