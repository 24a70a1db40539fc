"""Plots write valid PNGs of the expected size; the t-SNE keeps clusters apart and is seeded."""

import numpy as np
import pytest
from PIL import Image

from cmva_keras import plots
from cmva_keras.metrics import normalized_auc, pose_scores

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()  # checks the chunks and CRCs
    with Image.open(path) as image:
        image.load()
        return image.size, np.asarray(image)


def blobs(n_per_cluster=50, dim=10, seed=0):
    # Three Gaussian blobs with unit spread, centres ~ N(0, 10^2) per coordinate: about 45 apart.
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(3, dim))
    labels = np.repeat(np.arange(3), n_per_cluster)
    return centres[labels] + rng.normal(size=(3 * n_per_cluster, dim)), labels


def nearest_neighbour_agreement(embedding, labels):
    distances = np.sum((embedding[:, None] - embedding[None]) ** 2, axis=-1)
    np.fill_diagonal(distances, np.inf)
    return np.mean(labels[np.argmin(distances, axis=1)] == labels)


# ---------------------------------------------------------------------- t-SNE
def embed(tmp_path, points, labels, **kwargs):
    """`plot_latent_tsne` of one group: its `(N, 2)` embedding."""
    return plots.plot_latent_tsne({"points": points}, labels, tmp_path / "tsne.png", **kwargs)["points"]


def test_tsne_keeps_two_well_separated_clusters_apart(tmp_path):
    # Two unit Gaussian clouds in 20-D, 40 apart: no overlap at all.
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 60)
    points = rng.normal(size=(120, 20))
    points[labels == 1, 0] += 40.0
    embedding = embed(tmp_path, points, labels, perplexity=20)
    assert embedding.shape == (120, 2) and np.all(np.isfinite(embedding))
    # Every point's nearest neighbour is in its own cluster, and the clusters do
    # not interleave: the gap between them exceeds the spread of either.
    assert nearest_neighbour_agreement(embedding, labels) == 1.0
    a, b = embedding[labels == 0], embedding[labels == 1]
    gap = np.min(np.linalg.norm(a[:, None] - b[None], axis=-1))
    spread = max(np.linalg.norm(c - c.mean(axis=0), axis=1).max() for c in (a, b))
    assert gap > spread


def test_tsne_separates_three_clusters_by_label(tmp_path):
    points, labels = blobs()
    embedding = embed(tmp_path, points, labels, perplexity=30)
    centroids = np.stack([embedding[labels == c].mean(axis=0) for c in range(3)])
    closest = np.argmin(np.sum((embedding[:, None] - centroids[None]) ** 2, axis=-1), axis=1)
    assert np.mean(closest == labels) > 0.95


def test_tsne_is_deterministic_by_seed(tmp_path):
    points, labels = blobs(n_per_cluster=20)
    a = embed(tmp_path, points, labels, perplexity=10, seed=3)
    np.testing.assert_array_equal(a, embed(tmp_path, points, labels, perplexity=10, seed=3))
    # The seed reaches the t-SNE: with a random start, another seed gives another embedding.
    random_a = embed(tmp_path, points, labels, perplexity=10, seed=3, init="random")
    random_b = embed(tmp_path, points, labels, perplexity=10, seed=4, init="random")
    assert not np.allclose(random_a, random_b)


def test_tsne_rejects_a_perplexity_above_the_number_of_points(tmp_path):
    points, labels = blobs(n_per_cluster=3)
    with pytest.raises(ValueError, match="perplexity"):
        embed(tmp_path, points, labels, perplexity=30)


# ------------------------------------------------------------------- figures
def test_plot_latent_tsne_writes_png_and_embeds_groups_jointly(tmp_path):
    points, labels = blobs(n_per_cluster=20, dim=8)
    rng = np.random.default_rng(1)
    groups = {
        "E1": points,
        "mapper": points + rng.normal(scale=0.3, size=points.shape),
        "E2": points + rng.normal(scale=0.3, size=points.shape),
    }
    path = tmp_path / "figs" / "latent.png"
    embedded = plots.plot_latent_tsne(groups, labels, path, perplexity=20, figsize=(5, 4), dpi=60)
    (width, height), pixels = png_size(path)
    assert (width, height) == (300, 240)
    assert pixels.std() > 0  # something was drawn
    assert list(embedded) == ["E1", "mapper", "E2"]
    assert all(e.shape == (60, 2) for e in embedded.values())
    # Jointly embedded: the same sample from different groups lands in the same cluster.
    stacked = np.concatenate(list(embedded.values()))
    assert nearest_neighbour_agreement(stacked, np.tile(labels, 3)) > 0.95


def test_plot_latent_tsne_checks_shapes(tmp_path):
    with pytest.raises(ValueError, match="len\\(labels\\)"):
        plots.plot_latent_tsne({"a": np.zeros((5, 2))}, np.zeros(6), tmp_path / "x.png")
    with pytest.raises(ValueError, match="same latent size"):
        groups = {"a": np.zeros((6, 2)), "b": np.zeros((6, 3))}
        plots.plot_latent_tsne(groups, np.zeros(6), tmp_path / "x.png")


def test_plot_pck_curves_writes_png_and_reports_auc(tmp_path):
    rng = np.random.default_rng(2)
    gt = rng.normal(scale=40.0, size=(30, 21, 3))
    curves = {}
    for name, noise in (("CMVA", 8.0), ("without mapper", 14.0)):
        scores = pose_scores(gt, gt + rng.normal(scale=noise, size=gt.shape))
        curves[name] = (scores["thresholds_mm"][8:], scores["pck"][8:])
    curves["perfect"] = (np.linspace(20, 50, 7), np.ones(7))
    path = tmp_path / "pck.png"
    aucs = plots.plot_pck_curves(curves, path, title="RHD", figsize=(6, 4.5), dpi=50)
    (width, height), _ = png_size(path)
    assert (width, height) == (300, 225)
    assert aucs["perfect"] == pytest.approx(1.0)
    # The legend's AUC is the 20-50 mm AUC of pose_scores for curves cut at [8:].
    assert aucs["CMVA"] == pytest.approx(normalized_auc(*curves["CMVA"]))
    assert aucs["CMVA"] > aucs["without mapper"]
    with pytest.raises(ValueError, match="same length"):
        plots.plot_pck_curves({"bad": (np.arange(3), np.arange(4))}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match=".png"):
        plots.plot_pck_curves(curves, tmp_path / "pck.jpg")


def hand_poses(n, seed=0):
    """Plausible-looking hands: a wrist at 0 and five fingers fanning out, RHD order (tip first)."""
    rng = np.random.default_rng(seed)
    poses = np.zeros((n, 21, 3))
    for finger in range(5):
        angle = np.deg2rad(-40 + 20 * finger)
        direction = np.array([np.sin(angle), np.cos(angle), 0.0])
        for joint in range(4):  # MCP (index 4f + 4) to tip (4f + 1)
            poses[:, 4 * finger + 4 - joint] = direction * (40 + 20 * joint)
    return poses + rng.normal(scale=2.0, size=poses.shape)


def test_hand_bones_follow_the_rhd_order():
    # 20 bones; the wrist (0) joins the five MCPs 4, 8, 12, 16, 20; each finger chains MCP -> tip.
    bones = [bone for _, bone in plots.HAND_BONES]
    assert len(bones) == 20
    assert sorted(b for a, b in bones if a == 0) == [4, 8, 12, 16, 20]
    assert ((12, 11) in bones) and ((2, 1) in bones) and ((20, 19) in bones)
    assert sorted({k for bone in bones for k in bone}) == list(range(21))


@pytest.mark.parametrize("with_images", [True, False])
def test_plot_pose_grid_writes_png_of_the_grid_size(tmp_path, with_images):
    gt = hand_poses(4)
    preds = {"CMVA": gt + 3.0, "without mapper": gt + 9.0}
    images = None
    if with_images:
        images = np.random.default_rng(0).integers(0, 255, size=(4, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "poses.png"
    written = plots.plot_pose_grid(images, gt, preds, path, max_samples=3, cell_size=2.0, dpi=50)
    assert written == str(path)
    (width, height), pixels = png_size(path)
    columns = (1 if with_images else 0) + 1 + 2  # image, ground truth, two predictions
    assert (width, height) == (columns * 100, 3 * 100)  # 2 inches x 50 dpi per panel, 3 rows
    assert pixels.std() > 0


def test_plot_pose_grid_checks_shapes(tmp_path):
    gt = hand_poses(2)
    with pytest.raises(ValueError, match=r"\(N, 21, 3\)"):
        plots.plot_pose_grid(None, gt.reshape(2, 63), {}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="like gt"):
        plots.plot_pose_grid(None, gt, {"p": gt[:1]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="images must be"):
        plots.plot_pose_grid(np.zeros((3, 8, 8, 3)), gt, {}, tmp_path / "x.png")
