"""The paper's figures as PNG files, from NumPy arrays (matplotlib's Agg renderer, no display).

- `plot_pck_curves`: 3D PCK curves with their AUC in the legend (Figures 4, 5).
- `tsne` and `plot_latent_tsne`: an exact t-SNE in NumPy and the joint
  embedding of several latent spaces (Figure 2).
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

from cmva_keras.metrics.pose import normalized_auc

# RHD keypoint order: 0 wrist; thumb 1..4, index 5..8, middle 9..12, ring 13..16,
# pinky 17..20, each finger listed tip first, so 4, 8, 12, 16, 20 are the MCP joints.
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
FINGER_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple")
HAND_BONES = tuple(
    (finger, bone)
    for finger in range(5)
    for bone in (
        (0, 4 * finger + 4),  # wrist - MCP
        (4 * finger + 4, 4 * finger + 3),  # MCP - PIP
        (4 * finger + 3, 4 * finger + 2),  # PIP - DIP
        (4 * finger + 2, 4 * finger + 1),  # DIP - tip
    )
)
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
def _squared_distances(x):
    squared_norms = np.sum(x * x, axis=1)
    distances = squared_norms[:, None] + squared_norms[None, :] - 2.0 * (x @ x.T)
    np.maximum(distances, 0.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return distances


def _conditional_probabilities(distances, perplexity, tolerance=1e-5, max_steps=200):
    """Rows `p_j|i ~ exp(-beta_i d_ij)` (p_i|i = 0, each row sums to 1) of the given perplexity.

    Per point, a bisection on the Gaussian precision `beta_i` until the row's
    entropy is `ln(perplexity)` nats (all points at once).
    """
    n = distances.shape[0]
    off_diagonal = ~np.eye(n, dtype=bool)
    # Shifting each row by its smallest distance leaves p_j|i unchanged and avoids underflow.
    shifted = distances - np.min(np.where(off_diagonal, distances, np.inf), axis=1, keepdims=True)
    shifted[~off_diagonal] = 0.0
    target = np.log(perplexity)
    beta = np.ones(n)
    beta_low = np.zeros(n)
    beta_high = np.full(n, np.inf)
    for _ in range(max_steps):
        conditional = np.exp(-beta[:, None] * shifted) * off_diagonal
        total = np.sum(conditional, axis=1)
        conditional /= total[:, None]
        entropy = np.log(total) + beta * np.sum(shifted * conditional, axis=1)
        error = entropy - target
        if np.all(np.abs(error) < tolerance):
            break
        too_flat = error > 0  # entropy too high: sharpen (raise beta)
        beta_low = np.where(too_flat, beta, beta_low)
        beta_high = np.where(too_flat, beta_high, beta)
        beta = np.where(
            too_flat,
            np.where(np.isinf(beta_high), beta * 2.0, (beta + beta_high) / 2.0),
            (beta + beta_low) / 2.0,
        )
    return conditional


def _joint_probabilities(distances, perplexity):
    """Symmetric affinities `P = (P_cond + P_cond^T) / 2N` (sum 1), floored at 1e-12."""
    conditional = _conditional_probabilities(distances, perplexity)
    joint = (conditional + conditional.T) / (2.0 * distances.shape[0])
    return np.maximum(joint, 1e-12)


def _initial_embedding(x, n_components, init, rng):
    n = x.shape[0]
    if init == "random":
        return rng.normal(scale=1e-4, size=(n, n_components))
    # PCA: the top principal components, signs fixed (largest entry positive), first
    # component scaled to standard deviation 1e-4 (as scikit-learn does).
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    components = u[:, :n_components] * s[:n_components]
    if components.shape[1] < n_components:
        extra = rng.normal(size=(n, n_components - components.shape[1]))
        components = np.concatenate([components, extra], axis=1)
    signs = np.sign(components[np.argmax(np.abs(components), axis=0), np.arange(n_components)])
    components = components * np.where(signs == 0, 1.0, signs)
    scale = np.std(components[:, 0])
    return components / (scale if scale > 0 else 1.0) * 1e-4


def _embedding_affinities(embedding):
    """Student-t affinities `a_ij = 1 / (1 + |y_i - y_j|^2)`, `a_ii = 0`, as one N x N buffer.

    Built per embedding dimension with outer differences (exact, and faster than a rank-2
    matrix product for the 2 or 3 columns of an embedding).
    """
    columns = np.ascontiguousarray(embedding.T)
    affinity = np.subtract.outer(columns[0], columns[0])
    affinity *= affinity
    if len(columns) > 1:
        scratch = np.empty_like(affinity)
        for column in columns[1:]:
            np.subtract.outer(column, column, out=scratch)
            scratch *= scratch
            affinity += scratch
    affinity += 1.0
    np.reciprocal(affinity, out=affinity)
    np.fill_diagonal(affinity, 0.0)
    return affinity


def _kl_divergence(joint, embedding):
    affinity = _embedding_affinities(embedding)
    q = np.maximum(affinity / np.sum(affinity), 1e-12)
    return float(np.sum(joint * np.log(joint / q)))


def _kl_gradient(p, embedding):
    """Gradient of KL(P || Q): `4 sum_j (p_ij - q_ij) (y_i - y_j) / (1 + |y_i - y_j|^2)`.

    `q_ij = a_ij / Z` with `a_ij` the Student-t affinity and `Z = sum a`; the pair weight
    `w_ij = (p_ij - a_ij / Z) a_ij` is symmetric, and the gradient is
    `4 (rowsum(W) y_i - (W y)_i)`. Worked in place on one N x N buffer: memory traffic,
    not arithmetic, is the cost.
    """
    affinity = _embedding_affinities(embedding)
    total = np.sum(affinity)
    weights = p * affinity
    affinity *= affinity
    affinity /= total
    weights -= affinity
    # One matrix-vector product per column is faster than a (N, N) @ (N, 2) product here.
    weighted = np.stack([weights @ column for column in np.ascontiguousarray(embedding.T)], axis=1)
    return 4.0 * (np.sum(weights, axis=1)[:, None] * embedding - weighted)


def tsne(
    points,
    perplexity=30.0,
    seed=0,
    n_components=2,
    n_iter=1000,
    learning_rate="auto",
    early_exaggeration=12.0,
    exaggeration_iters=250,
    init="pca",
    kl_every=50,
    return_kl=False,
):
    """Exact t-SNE (van der Maaten and Hinton, 2008) in NumPy, for up to a few thousand points.

    Gaussian affinities at the given perplexity on squared Euclidean
    distances, symmetrised; Student-t (one degree of freedom) similarities in
    the embedding; gradient descent on KL(P || Q) with early exaggeration
    (x12 for 250 iterations, momentum 0.5, then 0.8) and per-parameter gains,
    as scikit-learn's exact method. Memory and time are O(N^2) per iteration
    (a few N x N float64 buffers, 32 MB each for N = 2,000): 2,000 points take
    about a minute on a 2-core CPU, 200 points under a second.

    Args:
        points: `(N, d)` array, N >= 4.
        perplexity: effective number of neighbours, below N - 1 (5 to 50 is usual).
        seed: seeds the random generator (random initialisation, and padding
            of a PCA initialisation when d < n_components).
        n_components: embedding dimension.
        n_iter: gradient steps in all, exaggeration included.
        learning_rate: a float, or "auto" = max(N / early_exaggeration / 4, 50).
        early_exaggeration, exaggeration_iters: the early-exaggeration phase.
        init: "pca" (deterministic, keeps global structure) or "random".
        kl_every: record KL(P || Q) every this many steps (if `return_kl`).
        return_kl: also return the KL history.

    Returns:
        `(N, n_components)` embedding; with `return_kl`, also a `(M, 2)` array
        of `(step, KL)` rows (step 0 is the initial embedding; the KL is of the
        true P, also during exaggeration).
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"t-SNE needs a finite (N, d) array of points, got shape {x.shape}.")
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}.")
    if not 1.0 <= perplexity < n - 1:
        raise ValueError(
            f"perplexity must lie in [1, N - 1) = [1, {n - 1}), got {perplexity}: lower it for {n} points."
        )
    if init not in ("pca", "random"):
        raise ValueError(f"Unknown init {init!r}: choose 'pca' or 'random'.")
    rng = np.random.default_rng(seed)
    if learning_rate == "auto":
        learning_rate = max(n / early_exaggeration / 4.0, 50.0)

    joint = _joint_probabilities(_squared_distances(x), perplexity)
    exaggerated = joint * early_exaggeration
    embedding = _initial_embedding(x, n_components, init, rng)
    update = np.zeros_like(embedding)
    gains = np.ones_like(embedding)
    history = [(0, _kl_divergence(joint, embedding))] if return_kl else []
    for step in range(1, n_iter + 1):
        exaggerating = step <= exaggeration_iters
        gradient = _kl_gradient(exaggerated if exaggerating else joint, embedding)
        momentum = 0.5 if exaggerating else 0.8
        # Delta-bar-delta gains: grow while the descent direction (-gradient) keeps the last
        # step's sign, shrink when it flips.
        gains = np.where(update * gradient < 0.0, gains + 0.2, gains * 0.8)
        np.maximum(gains, 0.01, out=gains)
        update = momentum * update - learning_rate * gains * gradient
        embedding = embedding + update
        if return_kl and (step % kl_every == 0 or step == n_iter):
            history.append((step, _kl_divergence(joint, embedding)))
    if return_kl:
        return embedding, np.asarray(history)
    return embedding


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
        perplexity, seed, **tsne_kwargs: passed to `tsne`.
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

    embedding = tsne(np.concatenate(list(arrays.values())), perplexity=perplexity, seed=seed, **tsne_kwargs)
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
    if gt.ndim != 3 or gt.shape[1:] != (21, 3):
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
        poses = [gt[row]] + [value[row] for value in preds.values()]
        stacked = np.concatenate(poses)
        centre = (stacked.max(axis=0) + stacked.min(axis=0)) / 2.0
        half = max(float(np.max(stacked.max(axis=0) - stacked.min(axis=0))) / 2.0, 1e-6)
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
            for setter, c in zip((axis.set_xlim, axis.set_ylim, axis.set_zlim), centre):
                setter(c - half, c + half)
            axis.set_box_aspect((1.0, 1.0, 1.0), zoom=1.15)
            axis.view_init(elev=elev, azim=azim)
            axis.set_xticklabels([])
            axis.set_yticklabels([])
            axis.set_zticklabels([])
            if row == 0:
                axis.set_title(name, fontsize="small")
            column += 1
    return _save(figure, path)
