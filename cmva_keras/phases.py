"""The three training phases of CMVA (docs/method.md, "Training phases").

Vocabulary, used across the package:

- source encoder E1 / source decoder D1: the upper branch, M1 -> M2.
- target encoder E2 / target decoder D2: the lower branch, a VAE on M2.
- mapper (VE, VD): the variational alignment branch, carrying E1's
  distribution onto E2's latent space through an intermediate Gaussian.

The seven objective terms are `rec_1, kl_1` (upper branch), `rec_2, kl_2`
(lower branch), `rec_m, kl_m` (mapper path and its intermediate Gaussian) and
`w2` (the Wasserstein alignment between the mapper's output Gaussian and E2's).
Other methods declare their own phases the same way (`cmva_keras.models`).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training stage of a model: the parts it trains and the objective terms it optimises."""

    number: int
    description: str
    trained_parts: tuple
    active_terms: tuple
    # What judges this phase's epochs on validation data (`train.keep_best`): an inference path
    # (the task's metric on it), a term (its lowest validation value), or "" for the primary path.
    best_by: str = ""


TERMS = ("rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2")
PARTS = ("source_encoder", "source_decoder", "target_encoder", "target_decoder", "mapper")

PHASES = {
    1: Phase(
        1,
        "upper and lower branches (E1, D1, E2, D2) trained; mapper frozen",
        ("source_encoder", "source_decoder", "target_encoder", "target_decoder"),
        ("rec_1", "kl_1", "rec_2", "kl_2"),
        best_by="upper",  # the mapper is untrained: judge the upper path E1 -> D1
    ),
    2: Phase(
        2,
        "mapper (VE, VD) trained; E1, D1, E2, D2 frozen",
        ("mapper",),
        ("rec_m", "kl_m", "w2"),
    ),
    3: Phase(3, "fine-tuning: everything trained", PARTS, TERMS),
}

