"""The three training phases of CMVA (docs/method.md, "Training phases").

Vocabulary, used across the package:

- source encoder E1 / source decoder D1: the upper branch, M1 -> M2.
- target encoder E2 / target decoder D2: the lower branch, a VAE on M2.
- mapper (VE, VD): the variational alignment branch, carrying E1's
  distribution onto E2's latent space through an intermediate Gaussian.

The seven objective terms are `rec_1, kl_1` (upper branch), `rec_2, kl_2`
(lower branch), `rec_m, kl_m` (mapper path and its intermediate Gaussian) and
`w2` (the Wasserstein alignment between the mapper's output Gaussian and E2's).
"""

import dataclasses

TERMS = ("rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2")
PARTS = ("source_encoder", "source_decoder", "target_encoder", "target_decoder", "mapper")


@dataclasses.dataclass(frozen=True)
class Phase:
    """What one phase trains and which objective terms it optimises."""

    number: int
    description: str
    trained_parts: tuple
    active_terms: tuple

    @property
    def frozen_parts(self):
        return tuple(p for p in PARTS if p not in self.trained_parts)


PHASES = {
    1: Phase(
        1,
        "upper and lower branches (E1, D1, E2, D2) trained; mapper frozen",
        ("source_encoder", "source_decoder", "target_encoder", "target_decoder"),
        ("rec_1", "kl_1", "rec_2", "kl_2"),
    ),
    2: Phase(
        2,
        "mapper (VE, VD) trained; E1, D1, E2, D2 frozen",
        ("mapper",),
        ("rec_m", "kl_m", "w2"),
    ),
    3: Phase(3, "fine-tuning: everything trained", PARTS, TERMS),
}


def get_phase(number):
    """Returns the `Phase` numbered 1, 2 or 3, or raises a ValueError naming them."""
    try:
        return PHASES[int(number)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"Unknown CMVA phase {number!r}: the phases are 1 (branches), 2 (mapper) "
            "and 3 (fine-tuning)."
        ) from None
