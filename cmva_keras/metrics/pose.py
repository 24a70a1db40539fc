"""3D hand pose scores in NumPy, as ColorHandPose3D's `EvalUtil` computes them.

Reference: Zimmermann and Brox, ColorHandPose3D (lmb-freiburg/hand3d),
`utils/general.py` (`EvalUtil.feed`, `_get_pck`, `_get_epe`, `get_measures`,
`calc_auc`) and `eval_full.py` (the 20-50 mm AUC). Their procedure, kept here:

1. Per sample and keypoint, the Euclidean distance between truth and
   prediction; a keypoint marked invisible contributes nothing.
2. Per keypoint k, over its visible samples: mean error `EPE_k`, median error,
   and `PCK_k(t)`, the fraction of errors `<= t`.
3. Keypoints with no visible sample are skipped; the rest are averaged with
   equal weight: mean EPE = mean_k EPE_k, PCK(t) = mean_k PCK_k(t).
4. AUC = trapezoid area under PCK over the thresholds divided by the
   trapezoid area of 1 over the same thresholds (that is, by the threshold
   interval), so a perfect curve scores 1. The trapezoid rule is linear, so
   the AUC of the keypoint-averaged curve equals the mean of the per-keypoint
   AUCs. "AUC 20-50 mm" takes the thresholds from the 9th on
   (`linspace(0, 50, 20)[8:]`, 21.05 to 50 mm), as `eval_full.py` does.

ColorHandPose3D works in metres with thresholds `linspace(0, 0.05, 20)`; this
module works in millimetres with `linspace(0, 50, 20)`, the same grid scaled.
"""

import numpy as np

PCK_THRESHOLDS_MM = np.linspace(0.0, 50.0, 20)
# Index of 21.05 mm, the first threshold of "AUC 20-50 mm" (ColorHandPose3D's `[8:]`).
AUC_20_50_START = 8


def trapezoid(y, x):
    """Trapezoid-rule integral of `y(x)`, the formula of `np.trapz` (removed from NumPy 2.4)."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def normalized_auc(thresholds, pck):
    """Area under a PCK curve divided by the threshold interval (ColorHandPose3D's `calc_auc`).

    Args:
        thresholds: `(T,)` increasing thresholds, `T >= 2`.
        pck: `(T,)` PCK values in [0, 1].

    Returns:
        Float in [0, 1]: 1 for a curve that is 1 everywhere.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim != 1 or thresholds.size < 2 or np.any(np.diff(thresholds) <= 0):
        raise ValueError(f"Need at least two increasing thresholds for an AUC, got {thresholds}.")
    return trapezoid(pck, thresholds) / trapezoid(np.ones_like(thresholds), thresholds)


def threshold_indices(thresholds, low, high):
    """Indices of the thresholds `t` with `low <= t <= high` (a small tolerance for rounding).

    `threshold_indices(PCK_THRESHOLDS_MM, 20, 50)` is `8..19`, the "AUC 20-50 mm" range.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    tolerance = 1e-9 * max(1.0, float(np.max(np.abs(thresholds))))
    selected = np.flatnonzero((thresholds >= low - tolerance) & (thresholds <= high + tolerance))
    if selected.size < 2:
        raise ValueError(
            f"Fewer than two thresholds of {np.round(thresholds, 3).tolist()} lie in [{low}, {high}]: "
            "widen the range or use a finer threshold grid."
        )
    return selected


def keypoint_errors(gt, pred):
    """Euclidean error of each keypoint, `(N, K)`, in the inputs' unit."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[-1] != 3 or gt.shape != pred.shape:
        raise ValueError(
            f"Expected gt and pred shaped (N, keypoints, 3), the same; got {gt.shape} and {pred.shape}. "
            "Reshape flat (N, 63) poses to (N, 21, 3)."
        )
    if gt.shape[0] == 0:
        raise ValueError("No poses to score (N = 0).")
    if not (np.all(np.isfinite(gt)) and np.all(np.isfinite(pred))):
        raise ValueError("gt and pred must be finite; found NaN or infinity.")
    return np.sqrt(np.sum(np.square(gt - pred), axis=-1))


def pose_scores(gt, pred, visible=None, thresholds=PCK_THRESHOLDS_MM):
    """Mean EPE, PCK curve and AUCs of 3D poses (ColorHandPose3D's `EvalUtil`).

    Both poses are root-relative and in millimetres (for CMVA: the normalised
    prediction times the ground-truth scale; the ground truth root-relative).

    Args:
        gt: `(N, 21, 3)` ground truth, mm.
        pred: `(N, 21, 3)` prediction, mm.
        visible: optional `(N, 21)` mask; keypoints where it is False are left
            out (EvalUtil's `keypoint_vis`). Default: all visible.
        thresholds: PCK thresholds in mm, increasing; default `linspace(0, 50, 20)`.
            The AUCs use the thresholds that lie in [20, 50] and [0, 50] mm.

    Returns:
        Dict: `epe_mm` (mean over keypoints of each keypoint's mean error),
        `epe_median_mm` (mean over keypoints of each keypoint's median error),
        `epe_per_keypoint_mm` (`(21,)`, NaN for a keypoint never visible),
        `thresholds_mm` (`(T,)`), `pck` (`(T,)`), `auc_20_50` (on the default
        grid the thresholds from the 9th, 21.05 mm, on), `auc_0_50` (all 20).
    """
    errors = keypoint_errors(gt, pred)
    if visible is None:
        visible = np.ones(errors.shape, dtype=bool)
    visible = np.asarray(visible)
    if visible.shape != errors.shape:
        raise ValueError(f"visible must be shaped (N, keypoints) = {errors.shape}, got {visible.shape}.")
    visible = visible.astype(bool)
    thresholds = np.asarray(thresholds, dtype=np.float64)

    counts = visible.sum(axis=0)
    present = counts > 0
    if not np.any(present):
        raise ValueError("No keypoint is visible in any sample: nothing to score.")
    epe_per_keypoint = np.full(errors.shape[1], np.nan)
    median_per_keypoint = np.full(errors.shape[1], np.nan)
    pck_per_keypoint = []
    for k in np.flatnonzero(present):
        data = errors[visible[:, k], k]
        epe_per_keypoint[k] = np.mean(data)
        median_per_keypoint[k] = np.median(data)
        pck_per_keypoint.append([np.mean(data <= t) for t in thresholds])
    pck = np.mean(np.asarray(pck_per_keypoint), axis=0)
    # On the default grid these are `[8:]` (ColorHandPose3D's subset) and all 20.
    in_20_50 = threshold_indices(thresholds, 20.0, 50.0)
    in_0_50 = threshold_indices(thresholds, 0.0, 50.0)

    return {
        "epe_mm": float(np.mean(epe_per_keypoint[present])),
        "epe_median_mm": float(np.mean(median_per_keypoint[present])),
        "epe_per_keypoint_mm": epe_per_keypoint,
        "thresholds_mm": thresholds,
        "pck": pck,
        "auc_20_50": normalized_auc(thresholds[in_20_50], pck[in_20_50]),
        "auc_0_50": normalized_auc(thresholds[in_0_50], pck[in_0_50]),
    }
