"""Exports a trained run as a SavedModel for TF Serving.

  python scripts/export.py --workdir workdirs/food-default --export_dir exported
  # -> exported/cmva_food/1/ (then 2/, 3/, ... on later exports)

Works under any KERAS_BACKEND: the export itself runs under TensorFlow from
the workdir's model.keras. See cmva_keras/export/saved_model.py for the
signatures and the README for serving.
"""

import sys

from absl import app, flags, logging
from quiet import quiet_tensorflow  # scripts/quiet.py

flags.DEFINE_string("workdir", None, "A finished training run's workdir (holds model.keras and config.json).")
flags.DEFINE_string("export_dir", None, "Base folder for the SavedModel; <model_name>/<version>/ is created in it.")
flags.DEFINE_string("model_name", None, "Model name for TF Serving; default cmva_<task>.")
flags.mark_flags_as_required(["workdir", "export_dir"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    quiet_tensorflow()  # first: hides TensorFlow's C++ start-up lines (--verbosity 0 shows them)
    from cmva_keras.export import ExportError, export_workdir

    try:
        path = export_workdir(FLAGS.workdir, FLAGS.export_dir, FLAGS.model_name)
    except ExportError as error:
        logging.error("%s", error)
        sys.exit(1)
    print(path)


if __name__ == "__main__":
    app.run(main)
