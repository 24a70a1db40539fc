"""Predicts from image files with a finished run or an exported SavedModel.

  python scripts/predict.py --workdir workdirs/food-default photo.jpg other.png
  python scripts/predict.py --workdir workdirs/food-default --path upper --json photo.jpg
  python scripts/predict.py --workdir workdirs/hand-default --scale_mm 30 crop1.png crop2.png
  python scripts/predict.py --saved_model exported/cmva_food/1 photo.jpg

Food prints, per image, the ingredients above the model's saved threshold
with their probabilities; hands print the 3D pose (palm-rooted, in bone
lengths, and in mm with --scale_mm) and write poses.png and poses.json into
--output_dir (default ./predictions). --json prints the JSON report instead of
the table. Images of any size are preprocessed as the exported model does
(cmva_keras/prediction.py). A file that is not a readable image is reported
on stderr and skipped; the exit status is 0 when at least one image was
predicted, 1 when none was or the model or a flag cannot be used.
"""

import sys

from absl import app, flags
from quiet import quiet_tensorflow  # scripts/quiet.py

flags.DEFINE_string("workdir", None, "A finished training run's workdir (holds model.keras and config.json).")
flags.DEFINE_string("saved_model", None, "Instead of --workdir: an exported version folder (scripts/export.py).")
flags.DEFINE_string(
    "path", None,
    "Inference path: CMVA mapper (default) or upper; CM-VAE cross; CADA-VAE classifier (default) or cross; "
    "\"+ Mapper\" mapper (default) or base. Default: the method's primary path. --workdir only.",
)
flags.DEFINE_string("task", None, "Optional check: the task the model must be for (food or hand).")
flags.DEFINE_float("scale_mm", None, "Hands: the middle finger's MCP-PIP bone length in mm; adds the pose in mm.")
flags.DEFINE_enum(
    "hand_side", None, ["left", "right"],
    "Hands: the hand's side. Needed by a model trained with the side as an input (data.hand_side_input), "
    "which mirrors left crops; other models only record it.",
)
flags.DEFINE_string("output_dir", None, "Where hands write poses.png and poses.json (default ./predictions); "
                    "food writes predictions.json there when given.")
flags.DEFINE_bool("json", False, "Print the JSON report instead of the table.")
FLAGS = flags.FLAGS


def main(argv):
    quiet_tensorflow()  # first: hides TensorFlow's C++ start-up lines (--verbosity 0 shows them)
    from cmva_keras import prediction

    sys.exit(prediction.run(
        argv[1:], workdir=FLAGS.workdir, saved_model=FLAGS.saved_model, path=FLAGS.path, task=FLAGS.task,
        scale_mm=FLAGS.scale_mm, hand_side=FLAGS.hand_side, output_dir=FLAGS.output_dir, as_json=FLAGS.json,
    ))


if __name__ == "__main__":
    app.run(main)
