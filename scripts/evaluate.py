"""Evaluates a trained run of any method: every inference path (CMVA: mapper and upper), alignment, figures.

  python scripts/evaluate.py --workdir workdirs/food-default
  python scripts/evaluate.py --workdir workdirs/food-default --tta --calibrate_threshold
  python scripts/evaluate.py --workdir workdirs/hand-default --split test

Writes metrics.json and the figures (tsne.png; for hands also pck.png and
poses.png) into the workdir and prints both paths side by side.
"""

import json
import sys

from absl import app, flags, logging
from quiet import quiet_tensorflow  # scripts/quiet.py

flags.DEFINE_string("workdir", None, "A finished training run's workdir.")
flags.DEFINE_string("split", "test", "Split to evaluate (test, validation, train).")
flags.DEFINE_bool(
    "tta", False,
    "Test-time augmentation: average over views (food: five crops and their mirrors; "
    "hands: the crop and its vertical mirror).",
)
flags.DEFINE_float("threshold", None, "Food: fixed decision threshold (default: the one saved in the model).")
flags.DEFINE_bool("calibrate_threshold", False, "Food: pick the threshold with the best F1 on --calibration_split and save it in model.keras.")
flags.DEFINE_string("calibration_split", "train", "Split used to calibrate the threshold (validation where the dataset has one).")
flags.DEFINE_integer("max_examples", None, "Evaluate at most this many examples.")
flags.DEFINE_bool("plots", True, "Write the PNG figures.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    quiet_tensorflow()  # first: hides TensorFlow's C++ start-up lines (--verbosity 0 shows them)
    from cmva_keras import evaluation

    try:
        results = evaluation.evaluate_run(
            FLAGS.workdir, split=FLAGS.split, tta=FLAGS.tta, threshold=FLAGS.threshold,
            calibrate=FLAGS.calibrate_threshold, calibration_split=FLAGS.calibration_split,
            max_examples=FLAGS.max_examples, plots=FLAGS.plots,
        )
    except FileNotFoundError as error:
        logging.error("%s", error)
        sys.exit(1)
    print(f"{results['method']} / {results['task']} / {results['dataset']} / {results['split']} "
          f"({results['num_examples']} examples{', TTA' if results['tta'] else ''})")
    print(evaluation.format_table(results, results["task"]))
    print(json.dumps({k: v for k, v in results.items() if k not in results["paths"] + ["constant", "alignment"]},
                     default=str))


if __name__ == "__main__":
    app.run(main)
