"""`pose_scores` on cases worked out by hand, and against ColorHandPose3D's EvalUtil."""

import numpy as np
import pytest

from cmva_keras.metrics import (
    AUC_20_50_START,
    PCK_THRESHOLDS_MM,
    normalized_auc,
    pose_scores,
    threshold_indices,
)


def poses_with_errors(errors_mm):
    """Ground truth at random places and predictions `errors_mm[n, k]` away along a random direction."""
    errors_mm = np.asarray(errors_mm, dtype=np.float64)
    rng = np.random.default_rng(0)
    gt = rng.normal(scale=40.0, size=errors_mm.shape + (3,))
    direction = rng.normal(size=errors_mm.shape + (3,))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return gt, gt + errors_mm[..., None] * direction


def test_threshold_grid_and_the_20_50_range():
    # linspace(0, 50, 20): step 50/19 = 2.6316; the 9th value (index 8) is 8 * 50/19 = 21.05 mm,
    # the 8th (index 7) 18.42 mm, so "AUC 20-50 mm" is indices 8..19.
    assert PCK_THRESHOLDS_MM.shape == (20,)
    assert PCK_THRESHOLDS_MM[AUC_20_50_START] == pytest.approx(400 / 19)
    assert list(threshold_indices(PCK_THRESHOLDS_MM, 20, 50)) == list(range(8, 20))
    assert list(threshold_indices(PCK_THRESHOLDS_MM, 0, 50)) == list(range(20))


def test_two_error_levels_by_hand():
    # Sample A: every keypoint 10 mm off; sample B: every keypoint 30 mm off.
    # Per keypoint mean = median = 20 mm, so EPE = 20 mm and median EPE = 20 mm.
    # PCK(t) = 0 for t < 10, 0.5 for 10 <= t < 30, 1 for t >= 30. With t_i = 50 i / 19:
    # t_3 = 7.89, t_4 = 10.53, t_11 = 28.95, t_12 = 31.58, so PCK is 0 (i=0..3), 0.5 (i=4..11), 1 (i=12..19).
    errors = np.stack([np.full(21, 10.0), np.full(21, 30.0)])
    gt, pred = poses_with_errors(errors)
    scores = pose_scores(gt, pred)
    assert scores["epe_mm"] == pytest.approx(20.0, rel=1e-9)
    assert scores["epe_median_mm"] == pytest.approx(20.0, rel=1e-9)
    expected_pck = np.array([0.0] * 4 + [0.5] * 8 + [1.0] * 8)
    np.testing.assert_allclose(scores["pck"], expected_pck)
    np.testing.assert_allclose(scores["thresholds_mm"], np.linspace(0, 50, 20))
    # Normalised trapezoid area, all 19 intervals of width h divided by 19 h:
    # intervals 0..2: 0; 3: (0 + .5)/2 = .25; 4..10: 7 * .5 = 3.5; 11: (.5 + 1)/2 = .75; 12..18: 7.
    # AUC 0-50 = (0.25 + 3.5 + 0.75 + 7) / 19 = 11.5 / 19.
    assert scores["auc_0_50"] == pytest.approx(11.5 / 19, rel=1e-9)
    # 20-50: intervals 8..18 (11 of them): 8..10: 1.5; 11: .75; 12..18: 7 -> 9.25 / 11.
    assert scores["auc_20_50"] == pytest.approx(9.25 / 11, rel=1e-9)


def test_epe_is_a_mean_of_per_keypoint_means_and_median_differs_from_mean():
    # Keypoint k has errors (k, 0, 0) over three samples: mean k/3, median 0.
    # EPE = mean_k k/3 = (0 + 1 + ... + 20) / 21 / 3 = 10 / 3; median EPE = 0.
    errors = np.zeros((3, 21))
    errors[0] = np.arange(21)
    gt, pred = poses_with_errors(errors)
    scores = pose_scores(gt, pred)
    assert scores["epe_mm"] == pytest.approx(10 / 3, rel=1e-9)
    assert scores["epe_median_mm"] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(scores["epe_per_keypoint_mm"], np.arange(21) / 3, atol=1e-9)
    # An error equal to a threshold counts (<=). At t = 0: keypoint 0 is exact in all three samples
    # (PCK 1), the others in two of three (2/3): curve (1 + 20 * 2/3) / 21 = 43 / 63.
    assert scores["pck"][0] == pytest.approx(43 / 63)


def test_visibility_mask_weights_keypoints_equally_not_observations():
    # Errors 10 mm (sample A) and 30 mm (sample B); keypoint 0 is visible in A only.
    # Keypoint 0: mean 10; keypoints 1..20: mean 20. EPE = (10 + 20 * 20) / 21 = 410 / 21,
    # not the pooled mean over the 41 observations (810 / 41).
    errors = np.stack([np.full(21, 10.0), np.full(21, 30.0)])
    gt, pred = poses_with_errors(errors)
    visible = np.ones((2, 21), bool)
    visible[1, 0] = False
    scores = pose_scores(gt, pred, visible=visible)
    assert scores["epe_mm"] == pytest.approx(410 / 21, rel=1e-9)
    # PCK at t_4 = 10.53: keypoint 0 -> 1, others -> 0.5; curve = (1 + 20 * 0.5) / 21 = 11 / 21.
    assert scores["pck"][4] == pytest.approx(11 / 21)


def test_keypoint_never_visible_is_skipped():
    errors = np.stack([np.full(21, 10.0), np.full(21, 30.0)])
    errors[:, 0] = 1000.0  # would dominate the mean if it counted
    gt, pred = poses_with_errors(errors)
    visible = np.ones((2, 21), bool)
    visible[:, 0] = False
    scores = pose_scores(gt, pred, visible=visible)
    assert scores["epe_mm"] == pytest.approx(20.0, rel=1e-9)
    assert np.isnan(scores["epe_per_keypoint_mm"][0])
    assert scores["auc_20_50"] == pytest.approx(9.25 / 11, rel=1e-9)


class EvalUtilReference:
    """ColorHandPose3D utils/general.py EvalUtil, transcribed (np.trapz -> np.trapezoid, same formula)."""

    def __init__(self, num_kp=21):
        self.data = [[] for _ in range(num_kp)]
        self.num_kp = num_kp

    def feed(self, keypoint_gt, keypoint_vis, keypoint_pred):
        euclidean_dist = np.sqrt(np.sum(np.square(keypoint_gt - keypoint_pred), axis=1))
        for i in range(keypoint_gt.shape[0]):
            if keypoint_vis[i]:
                self.data[i].append(euclidean_dist[i])

    def get_measures(self, val_min, val_max, steps):
        thresholds = np.linspace(val_min, val_max, steps)
        norm_factor = np.trapezoid(np.ones_like(thresholds), thresholds)
        epe_mean_all, epe_median_all, auc_all, pck_curve_all = [], [], [], []
        for part_id in range(self.num_kp):
            if len(self.data[part_id]) == 0:
                continue
            data = np.array(self.data[part_id])
            epe_mean_all.append(np.mean(data))
            epe_median_all.append(np.median(data))
            pck_curve = np.array([np.mean((data <= t).astype("float")) for t in thresholds])
            pck_curve_all.append(pck_curve)
            auc_all.append(np.trapezoid(pck_curve, thresholds) / norm_factor)
        return (
            np.mean(epe_mean_all),
            np.mean(epe_median_all),
            np.mean(auc_all),
            np.mean(np.array(pck_curve_all), 0),
            thresholds,
        )


def calc_auc_reference(x, y):
    """ColorHandPose3D's calc_auc."""
    return np.trapezoid(y, x) / np.trapezoid(np.ones_like(y), x)


def test_matches_eval_util_in_metres_on_random_poses():
    # ColorHandPose3D evaluates in metres with thresholds linspace(0, 0.050, 20) and reports mm;
    # eval_full.py takes the 20-50 mm AUC from pck_curve_all[8:], threshs[8:] * 1000.
    rng = np.random.default_rng(5)
    gt_mm = rng.normal(scale=40.0, size=(60, 21, 3))
    pred_mm = gt_mm + rng.normal(scale=12.0, size=(60, 21, 3))
    visible = rng.random((60, 21)) > 0.2
    visible[:, 3] = False  # one keypoint never visible
    util = EvalUtilReference()
    for g, v, p in zip(gt_mm / 1000.0, visible, pred_mm / 1000.0):
        util.feed(g, v, p)
    mean, median, auc, pck_curve_all, threshs = util.get_measures(0.0, 0.050, 20)
    auc_subset = calc_auc_reference(threshs[8:] * 1000.0, pck_curve_all[8:])

    scores = pose_scores(gt_mm, pred_mm, visible=visible)
    assert scores["epe_mm"] == pytest.approx(mean * 1000, rel=1e-9)
    assert scores["epe_median_mm"] == pytest.approx(median * 1000, rel=1e-9)
    assert scores["auc_0_50"] == pytest.approx(auc, rel=1e-9)
    assert scores["auc_20_50"] == pytest.approx(auc_subset, rel=1e-9)
    # Distances near a threshold may round differently in metres and mm; allow one flip in 1000s.
    np.testing.assert_allclose(scores["pck"], pck_curve_all, atol=0.02)
    assert 0.0 < scores["auc_0_50"] < scores["auc_20_50"] < 1.0


def test_normalized_auc_of_constant_curves():
    thresholds = np.linspace(20, 50, 7)
    assert normalized_auc(thresholds, np.ones(7)) == pytest.approx(1.0)
    assert normalized_auc(thresholds, np.full(7, 0.25)) == pytest.approx(0.25)
    # A ramp from 0 to 1 has half the area.
    assert normalized_auc(thresholds, np.linspace(0, 1, 7)) == pytest.approx(0.5)


def test_bad_inputs_raise_clear_errors():
    gt = np.zeros((2, 21, 3))
    with pytest.raises(ValueError, match="Reshape flat"):
        pose_scores(gt.reshape(2, 63), gt.reshape(2, 63))
    with pytest.raises(ValueError, match="visible must be shaped"):
        pose_scores(gt, gt, visible=np.ones((2, 20)))
    with pytest.raises(ValueError, match="No keypoint is visible"):
        pose_scores(gt, gt, visible=np.zeros((2, 21)))
    with pytest.raises(ValueError, match="finite"):
        pose_scores(gt, np.full_like(gt, np.nan))
    with pytest.raises(ValueError, match="Fewer than two thresholds"):
        threshold_indices(PCK_THRESHOLDS_MM, 49, 50)
