"""`TargetSide`: the target-side interface CMVA and the baselines share (E2 and D2 in CMVA's terms).

Every method here has a target encoder (`target_encoder`, targets -> Gaussian)
and a target decoder (`target_decoder`, latent sample -> logits or values).
`WithMapper` and the alignment measurements (`latent_distributions`) reach
them through these methods, so a model provides only `source_distribution`.
"""


class TargetSide:
    """Mixin for a `StagedModel` with `target_encoder` and `target_decoder` parts; all in inference mode."""

    def target_distribution(self, y):
        """The target encoder's Gaussian `(mean, log_var)` for targets `y`."""
        return self.target_encoder(self._flat_targets(y), training=False)

    def decode_target(self, z):
        """The target decoder's logits or values for latent samples `z`."""
        return self.target_decoder(z, training=False)

    def latent_distributions(self, x, y):
        """`{"source": the image side's Gaussian, "target": the target encoder's}`."""
        return {"source": self.source_distribution(x), "target": self.target_distribution(y)}
