"""Evaluation metrics of the CMVA paper's two tasks.

NumPy functions compute the protocols on a whole split:

- `ingredient_scores`: F1 and IoU of ingredient sets, per recipe
  (Yummly-28K), micro (Recipe1M, as inverse-cooking computes them) and macro.
- `pose_scores`: mean EPE, PCK curve and AUCs of 3D hand poses, as
  ColorHandPose3D's `EvalUtil` computes them.

- `alignment_scores`: how close image latents land to the target encoder's:
  mean 2-Wasserstein distance and latent-space retrieval (median rank, R@K).

Keras metrics stream the same numbers over batches inside `fit` / `evaluate`
on every backend: `IngredientF1`, `IngredientIoU`, `MeanEPE`, `PCKAUC`.
"""

from cmva_keras.metrics.alignment import alignment_scores, retrieval_scores
from cmva_keras.metrics.ingredient_f1 import IngredientF1
from cmva_keras.metrics.ingredient_iou import IngredientIoU
from cmva_keras.metrics.ingredients import ingredient_scores
from cmva_keras.metrics.mean_epe import MeanEPE
from cmva_keras.metrics.pck_auc import PCKAUC
from cmva_keras.metrics.pose import (
    AUC_20_50_START,
    PCK_THRESHOLDS_MM,
    normalized_auc,
    pose_scores,
    threshold_indices,
)

__all__ = [
    "AUC_20_50_START",
    "IngredientF1",
    "IngredientIoU",
    "MeanEPE",
    "PCKAUC",
    "PCK_THRESHOLDS_MM",
    "alignment_scores",
    "ingredient_scores",
    "normalized_auc",
    "pose_scores",
    "retrieval_scores",
    "threshold_indices",
]
