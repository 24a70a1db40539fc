"""SavedModel export of a trained CMVA for TF Serving (see `saved_model.py`)."""

from cmva_keras.export.saved_model import ExportError, export_workdir, next_version_dir

__all__ = ["ExportError", "export_workdir", "next_version_dir"]
