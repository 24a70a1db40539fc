"""Exports a training workdir's `model.keras` as a SavedModel that TF Serving loads.

Layout: `<export_dir>/<model_name>/<version>/` with `saved_model.pb`,
`variables/` and `assets/`, where `<version>` is the next integer (TF Serving
serves the highest). An existing version is never overwritten.

The export always runs under the TensorFlow backend: a TF-backend SavedModel
holds plain TF ops (a JAX-backend one holds XlaCallModule ops and torch cannot
export this model: `torch.export` fails on its input structure). Called under JAX or PyTorch,
`export_workdir` runs the export in a TensorFlow-backend subprocess from the
`.keras` file, which loads the same weights on any backend.

Signatures (every input has a dynamic batch dimension):

food ("classification"):
  serving_default  images uint8 (B, H, W, 3), any H, W -> ingredient_probs float32 (B, K),
                   ingredients int32 (B, K) (0/1 at the model's saved threshold)
  serving_bytes    image_bytes string (B,) JPEG or PNG -> the same outputs
  vocabulary       indices int32 (N,) -> names string (N,): ingredient names
                   (the vocabulary also ships as assets/vocabulary.txt)
hand ("regression"):
  serving_default  images uint8 (B, H, W, 3), a hand crop -> pose_3d float32 (B, 21, 3),
                   palm-rooted and bone-normalised
  serving_bytes    image_bytes string (B,) -> pose_3d
  serving_mm       images uint8 (B, H, W, 3), scale_mm float32 (B,) -> pose_3d,
                   pose_3d_mm (B, 21, 3): times the scale (the middle finger's
                   MCP-PIP bone length in millimetres)
  serving_bytes_mm image_bytes string (B,), scale_mm float32 (B,) -> pose_3d, pose_3d_mm
"""

import os
import re
import subprocess
import sys

import keras

from cmva_keras.training import run_files


class ExportError(ValueError):
    """The workdir or the export folder cannot be used; the message says why and what to do."""


def next_version_dir(export_dir, model_name):
    """`<export_dir>/<model_name>/<n+1>`, where n is the highest existing integer version (0 if none)."""
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ExportError(f"--export_dir {export_dir} is a file; pass a folder (it is created if missing).")
    base = os.path.join(export_dir, model_name)
    if os.path.exists(base) and not os.path.isdir(base):
        raise ExportError(f"{base} is a file; remove it or choose another --model_name.")
    versions = [int(d) for d in os.listdir(base) if re.fullmatch(r"\d+", d)] if os.path.isdir(base) else []
    return os.path.join(base, str(max(versions, default=0) + 1))


def read_workdir(workdir):
    """`(model_path, config_dict, vocabulary or None)` of a training workdir, checked."""
    try:
        return run_files.read_run(workdir)
    except FileNotFoundError as error:
        raise ExportError(str(error)) from None


def export_workdir(workdir, export_dir, model_name=None):
    """Exports `workdir/model.keras`; returns the new version's folder. Works under any backend."""
    model_path, config, vocabulary = read_workdir(workdir)
    model_name = model_name or f"cmva_{config['task']}"
    target = next_version_dir(export_dir, model_name)
    if keras.backend.backend() != "tensorflow":
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
        command = [sys.executable, "-m", "cmva_keras.export.saved_model", workdir, target]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"Export under the TensorFlow backend failed:\n{result.stderr[-4000:]}")
        return target
    from cmva_keras.export import signatures

    signatures.write_saved_model(model_path, config, vocabulary, target)
    return target


if __name__ == "__main__":
    # Internal: `python -m cmva_keras.export.saved_model WORKDIR TARGET` under KERAS_BACKEND=tensorflow.
    from cmva_keras.export import signatures

    _model_path, _config, _vocabulary = read_workdir(sys.argv[1])
    signatures.write_saved_model(_model_path, _config, _vocabulary, sys.argv[2])
