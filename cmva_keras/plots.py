"""The paper's figures as PNG files, from NumPy arrays (matplotlib's Agg renderer, no display).

- `plot_pck_curves`: 3D PCK curves with their AUC in the legend (Figures 4, 5).
- `plot_latent_tsne`: the joint t-SNE embedding of several latent spaces
  (Figure 2), by scikit-learn's `sklearn.manifold.TSNE`.
- `plot_pose_grid`: 3D hand skeletons, ground truth and predictions per
  sample, optionally beside the input image (Figure 6).

Figures are built on `matplotlib.figure.Figure` with an Agg canvas, never
through pyplot, so nothing depends on (or changes) the global backend and no
window opens. Each PNG is exactly `figsize * dpi` pixels (no tight bounding box).
"""

import os

import matplotlib
import mpl_toolkits.mplot3d  # noqa: F401  (registers the "3d" projection)
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cmva_keras import keypoints
from cmva_keras.metrics.pose import normalized_auc

FINGER_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple")
# (finger, (parent, child)) for the 20 bones of `keypoints.BONES`, coloured by finger.
HAND_BONES = tuple((finger, bone) for finger, bones in enumerate(keypoints.FINGER_BONES) for bone in bones)
DEFAULT_MARKERS = ("^", "o", "x", "s", "D", "v", "P", "*")


def _new_figure(figsize, dpi):
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"Plots are written as PNG: give a path ending in .png, got {path!r}.")
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png", dpi=figure.dpi)
    return path


# ------------------------------------------------------------------ PCK curves
def plot_pck_curves(curves, path, title="3D PCK", figsize=(6.0, 4.5), dpi=100):
    """PCK curves of several methods (or inference paths), AUC in the legend (Figures 4, 5).

    Args:
        curves: dict name -> `(thresholds_mm, pck)`, two `(T,)` arrays (e.g.
            `pose_scores(...)["thresholds_mm"][8:]` and `["pck"][8:]` for the
            20-50 mm range).
        path: output `.png` file; parent folders are created.
        title: figure title.
        figsize, dpi: the PNG is `figsize * dpi` pixels.

    Returns:
        Dict name -> AUC, the normalised area over each curve's own thresholds
        (`cmva_keras.metrics.normalized_auc`), as printed in the legend.
    """
    if not curves:
        raise ValueError("No curves to plot: pass a dict name -> (thresholds_mm, pck).")
    figure = _new_figure(figsize, dpi)
    axis = figure.add_subplot(1, 1, 1)
    aucs = {}
    for name, (thresholds, pck) in curves.items():
        thresholds = np.asarray(thresholds, dtype=np.float64)
        pck = np.asarray(pck, dtype=np.float64)
        if thresholds.shape != pck.shape or thresholds.ndim != 1:
            raise ValueError(
                f"Curve {name!r}: thresholds and pck must be 1-D of the same length, "
                f"got {thresholds.shape} and {pck.shape}."
            )
        aucs[name] = normalized_auc(thresholds, pck)
        axis.plot(thresholds, pck, marker=".", label=f"{name} (AUC={aucs[name]:.3f})")
    axis.set_xlabel("error threshold (mm)")
    axis.set_ylabel("3D PCK")
    axis.set_ylim(0.0, 1.01)
    axis.grid(True, alpha=0.3)
    axis.set_title(title)
    axis.legend(loc="lower right")
    _save(figure, path)
    return aucs


# ----------------------------------------------------------------------- t-SNE
def _tsne(points, perplexity, seed, **tsne_kwargs):
    """`(N, 2)` t-SNE embedding of `(N, d)` points: scikit-learn's Barnes-Hut `TSNE`, PCA-initialised.

    Deterministic for a given `seed`; O(N log N): the evaluation's 1,800 points
    (3 groups x 600 latent means) take seconds on 2 CPU cores.
    """
    from sklearn.manifold import TSNE

    options = {"init": "pca", "learning_rate": "auto", **tsne_kwargs}
    return TSNE(n_components=2, perplexity=perplexity, random_state=seed, **options).fit_transform(points)


def _label_colors(labels):
    """Colour per label: tab10 / tab20 for up to 20 distinct labels, viridis beyond."""
    unique = sorted(set(labels.tolist()), key=lambda v: (str(type(v)), v))
    if len(unique) <= 10:
        palette = matplotlib.colormaps["tab10"](np.arange(len(unique)))
    elif len(unique) <= 20:
        palette = matplotlib.colormaps["tab20"](np.arange(len(unique)))
    else:
        palette = matplotlib.colormaps["viridis"](np.linspace(0.0, 1.0, len(unique)))
    index = {label: i for i, label in enumerate(unique)}
    return unique, palette, np.array([index[label] for label in labels.tolist()])


def plot_latent_tsne(
    groups,
    labels,
    path,
    perplexity=30.0,
    seed=0,
    markers=None,
    title="latent spaces (t-SNE)",
    label_title="label",
    figsize=(6.0, 6.0),
    dpi=100,
    **tsne_kwargs,
):
    """Joint t-SNE of several latent spaces of the same samples, coloured by label (Figure 2).

    All groups are embedded together (so distances across groups mean
    something), then drawn with one marker per group; the paper draws E1 means
    as triangles, mapper means as circles and E2 means as crosses, the default
    for groups given in that order, e.g. `{"E1": mu1, "mapper": mu_m, "E2": mu2}`.

    Args:
        groups: dict name -> `(N, d)` array, the same N samples and d in every group.
        labels: `(N,)` labels of the samples (ints or strings), shared by the groups.
        path: output `.png` file.
        perplexity: t-SNE's effective number of neighbours, below the total
            number of points embedded (all groups together).
        seed: `random_state` of the t-SNE; the same seed gives the same figure.
        **tsne_kwargs: further `sklearn.manifold.TSNE` arguments (e.g.
            `early_exaggeration`, `metric`).
        markers: optional dict name -> matplotlib marker.
        title, figsize, dpi: figure settings; the PNG is `figsize * dpi` pixels.
        label_title: what the labels are, the title of their legend.

    Returns:
        Dict name -> `(N, 2)` embedded points of that group.
    """
    if not groups:
        raise ValueError("No groups to embed: pass a dict name -> (N, d) latent means.")
    labels = np.asarray(labels)
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in groups.items()}
    for name, values in arrays.items():
        if values.ndim != 2 or values.shape[0] != labels.shape[0]:
            raise ValueError(
                f"Group {name!r} has shape {values.shape}; every group must be (N, d) with "
                f"N = len(labels) = {labels.shape[0]}."
            )
    if len({values.shape[1] for values in arrays.values()}) != 1:
        raise ValueError("All groups must have the same latent size d to be embedded jointly.")
    markers = dict(markers or {})
    for i, name in enumerate(arrays):
        markers.setdefault(name, DEFAULT_MARKERS[i % len(DEFAULT_MARKERS)])

    embedding = _tsne(np.concatenate(list(arrays.values())), perplexity, seed, **tsne_kwargs)
    n = labels.shape[0]
    embedded = {name: embedding[i * n : (i + 1) * n] for i, name in enumerate(arrays)}

    unique, palette, color_index = _label_colors(labels)
    figure = _new_figure(figsize, dpi)
    axis = figure.add_subplot(1, 1, 1)
    for name, points in embedded.items():
        axis.scatter(
            points[:, 0], points[:, 1], c=palette[color_index], marker=markers[name], s=18, alpha=0.75
        )
    group_legend = axis.legend(
        handles=[
            Line2D([], [], color="black", marker=markers[name], linestyle="", label=name) for name in embedded
        ],
        loc="upper left",
        title="latent",
    )
    if len(unique) <= 20:
        axis.add_artist(group_legend)
        axis.legend(
            handles=[Patch(color=palette[i], label=str(label)) for i, label in enumerate(unique)],
            loc="lower right",
            fontsize="small",
            title=label_title,
        )
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title)
    _save(figure, path)
    return embedded


# ------------------------------------------------------------------ hand poses
def _draw_skeleton(axis, pose, colors=None, style="-", alpha=1.0):
    for finger, (a, b) in HAND_BONES:
        color = FINGER_COLORS[finger] if colors is None else colors
        axis.plot(*pose[[a, b]].T, style, color=color, linewidth=1.5, alpha=alpha)
    axis.scatter(*pose.T, s=4, color="black" if colors is None else colors, alpha=alpha)


def frame_pose_axis(axis, points, *, elev, azim):
    """Frames a 3D axis on `points` (N, 3): an equal-sided cube around them, the view, no tick labels."""
    points = np.asarray(points, dtype=np.float64)
    centre = (points.max(axis=0) + points.min(axis=0)) / 2.0
    half = max(float(np.max(points.max(axis=0) - points.min(axis=0))) / 2.0, 1e-6)
    for setter, c in zip((axis.set_xlim, axis.set_ylim, axis.set_zlim), centre):
        setter(c - half, c + half)
    axis.set_box_aspect((1.0, 1.0, 1.0), zoom=1.15)
    axis.view_init(elev=elev, azim=azim)
    axis.set_xticklabels([])
    axis.set_yticklabels([])
    axis.set_zticklabels([])


def _as_image(image):
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    if image.max() > 1.0:
        image = image / 255.0
    return np.clip(image, 0.0, 1.0)


def plot_pose_grid(
    images,
    gt,
    preds,
    path,
    max_samples=8,
    cell_size=2.5,
    dpi=100,
    elev=-80.0,
    azim=-90.0,
    show_gt_in_predictions=True,
):
    """A grid of 3D hand skeletons: one row per sample, columns image, ground truth, predictions (Figure 6).

    Poses are in RHD keypoint order (`HAND_BONES`), any consistent unit; each
    finger has its own colour. Panels of one row share their axis limits. In
    prediction panels the ground truth is drawn faintly (grey, dashed) for
    comparison unless `show_gt_in_predictions=False`.

    Args:
        images: `None`, or `(N, H, W, 3)` / `(N, H, W)` input images (uint8, or
            floats in [0, 1] or [0, 255]).
        gt: `(N, 21, 3)` ground-truth poses.
        preds: dict name -> `(N, 21, 3)` predictions (e.g. "CMVA", "without mapper").
        path: output `.png` file.
        max_samples: rows drawn (the first samples).
        cell_size: inches per panel; the PNG is `columns * cell_size * dpi`
            by `rows * cell_size * dpi` pixels.
        dpi: pixels per inch.
        elev, azim: 3D view angles (the default looks roughly from the camera).
        show_gt_in_predictions: overlay the ground truth in prediction panels.

    Returns:
        The path written.
    """
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[1:] != (keypoints.NUM_KEYPOINTS, 3):
        raise ValueError(f"gt must be (N, 21, 3) poses in RHD order, got {gt.shape}.")
    preds = {name: np.asarray(value, dtype=np.float64) for name, value in (preds or {}).items()}
    for name, value in preds.items():
        if value.shape != gt.shape:
            raise ValueError(f"Prediction {name!r} has shape {value.shape}; expected {gt.shape} like gt.")
    if images is not None:
        images = np.asarray(images)
        if images.ndim not in (3, 4) or images.shape[0] != gt.shape[0]:
            raise ValueError(
                f"images must be (N, H, W[, 3]) with N = {gt.shape[0]} like gt, got {images.shape}."
            )
    rows = min(int(max_samples), gt.shape[0])
    if rows < 1:
        raise ValueError("Nothing to draw: gt has no samples or max_samples < 1.")
    columns = (images is not None) + 1 + len(preds)

    figure = _new_figure((columns * cell_size, rows * cell_size), dpi)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1.0 - 0.3 / (rows * cell_size),
                           wspace=0.02, hspace=0.02)
    for row in range(rows):
        stacked = np.concatenate([gt[row]] + [value[row] for value in preds.values()])
        column = 0
        if images is not None:
            axis = figure.add_subplot(rows, columns, row * columns + 1)
            axis.imshow(_as_image(images[row]), cmap="gray" if images.ndim == 3 else None)
            axis.set_axis_off()
            if row == 0:
                axis.set_title("input", fontsize="small")
            column = 1
        for name, pose in [("ground truth", gt[row])] + [(name, value[row]) for name, value in preds.items()]:
            axis = figure.add_subplot(rows, columns, row * columns + column + 1, projection="3d")
            if name != "ground truth" and show_gt_in_predictions:
                _draw_skeleton(axis, gt[row], colors="0.6", style="--", alpha=0.6)
            _draw_skeleton(axis, pose)
            frame_pose_axis(axis, stacked, elev=elev, azim=azim)
            if row == 0:
                axis.set_title(name, fontsize="small")
            column += 1
    return _save(figure, path)
