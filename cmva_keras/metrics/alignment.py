"""How well a method lands image latents on the target encoder's latents (NumPy, whole split).

The paper's Figure 2 claims that the mapper carries image latents onto the
target encoder's (E2's) latent space. Two numbers make that claim measurable
for every method:

- `mean_wasserstein2`: the mean 2-Wasserstein distance between each image's
  Gaussian (the mapper's output, or the image encoder's own for a path
  without mapper) and its own target's E2 Gaussian, eq. (5) without `eps`.
- `retrieval_ranks` / `retrieval_scores`: cross-modal retrieval in latent
  space, as im2recipe (Salvador et al., CVPR 2017) reports it on Recipe1M:
  for each image, the rank (1 = best) of its own target's E2 mean among all
  the split's E2 means, by Euclidean distance from the image's mean; the
  median rank (medR) and recall at 1, 5 and 10. Chance medR is about N / 2.
"""

import numpy as np

RECALL_AT = (1, 5, 10)


def mean_wasserstein2(mean_a, log_var_a, mean_b, log_var_b):
    """Mean over rows of `sqrt(||mu_a - mu_b||^2 + ||sigma_a - sigma_b||^2)`, `sigma = exp(log_var / 2)`."""
    sigma_a, sigma_b = np.exp(0.5 * np.asarray(log_var_a, "float64")), np.exp(0.5 * np.asarray(log_var_b, "float64"))
    squared = np.sum((np.asarray(mean_a, "float64") - np.asarray(mean_b, "float64")) ** 2, axis=-1)
    squared += np.sum((sigma_a - sigma_b) ** 2, axis=-1)
    return float(np.mean(np.sqrt(squared)))


def retrieval_ranks(queries, keys):
    """For each row i of `queries` `(N, d)`: 1 + the number of `keys` rows strictly closer than `keys[i]`.

    Ties count in the query's favour (a key at the same distance as the true
    one does not push it down).
    """
    queries, keys = np.asarray(queries, "float64"), np.asarray(keys, "float64")
    if queries.shape != keys.shape or queries.ndim != 2:
        raise ValueError(f"queries and keys must both be (N, d) with the same N; got {queries.shape}, {keys.shape}.")
    squared = (
        np.sum(queries**2, axis=1)[:, None] - 2.0 * queries @ keys.T + np.sum(keys**2, axis=1)[None, :]
    )
    own = np.diag(squared)[:, None]
    return 1 + np.sum(squared < own - 1e-9 * np.maximum(1.0, np.abs(own)), axis=1)


def retrieval_scores(queries, keys):
    """`{"median_rank", "r_at_1", "r_at_5", "r_at_10", "num_candidates"}` of `retrieval_ranks`."""
    ranks = retrieval_ranks(queries, keys)
    scores = {"median_rank": float(np.median(ranks)), "num_candidates": int(len(ranks))}
    for k in RECALL_AT:
        scores[f"r_at_{k}"] = float(np.mean(ranks <= k))
    return scores


def alignment_scores(latents):
    """Alignment of a split's latents: `{side: {"w2", "median_rank", "r_at_1", ...}}`.

    Args:
        latents: `{"source": (means, log_vars), "target": ..., ["mapped": ...]}`
            over the whole split, as `StagedModel.latent_distributions` gives
            per batch. Each side other than "target" is scored against it.
    """
    target_mean, target_log_var = latents["target"]
    scores = {}
    for side in ("mapped", "source"):
        if side not in latents:
            continue
        mean, log_var = latents[side]
        if np.shape(mean) != np.shape(target_mean):
            continue  # a source latent of another size than E2's has no distance to it
        scores[side] = {
            "w2": mean_wasserstein2(mean, log_var, target_mean, target_log_var),
            **retrieval_scores(mean, target_mean),
        }
    return scores
