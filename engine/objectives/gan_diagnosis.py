"""Why a GAN fails, in words, from the figures every epoch already has.

Two failures are common enough to name: the discriminator wins (it tells every generated image apart,
D(G(z)) → 0, and the generator's gradient shrinks so it stops learning), and mode collapse (the judge
found most classes among the generated images, then only a few: a young generator finds few anyway,
so only a loss counts). Each note is said once when it appears, and again when it is over.
"""
from __future__ import annotations

import math

__all__ = ["Diagnosis"]

WINNING_FAKE = 0.05      # mean D(G(z)) below this (bce) ...
WINNING_ACCURACY = 0.95  # ... while D tells this share of the batch apart
FOUND_SHARE = 0.6        # once the judge has found this share of the classes ...
COLLAPSE_SHARE = 0.5     # ... finding half as many or fewer again is a collapse (early epochs find few anyway)
ONE_KIND_BITS = 0.5      # or, from epoch ONE_KIND_FROM on, a class histogram this narrow: nearly one kind of image
ONE_KIND_FROM = 10


class Diagnosis:
    def __init__(self, num_classes: int, loss: str):
        self.num_classes, self.loss = int(num_classes), loss
        self.said: set = set()
        self.best = 0   # the most classes the judge has found in one epoch

    def notes(self, epoch: int, figures: dict, quality: dict | None) -> list[tuple[str, str]]:
        """(kind, words) for each failure that appeared ("diagnosis") or passed ("diagnosis_over")."""
        found = {}
        if self.loss == "bce" and figures.get("d_fake", 1.0) < WINNING_FAKE and \
                figures.get("d_accuracy", 0.0) > WINNING_ACCURACY:
            found["winning"] = (
                f"epoch {epoch}: the discriminator is winning — D(G(z)) = {figures['d_fake']:.3f}, it tells "
                f"{figures['d_accuracy']:.0%} of each batch apart and the generator's gradient norm is "
                f"{figures.get('g_grad_norm', float('nan')):.2g}; weaken it (fewer filters, more dropout, a lower "
                f"learning rate or label smoothing) or give the generator more steps")
        if quality and self.num_classes > 1:
            covered, entropy = quality["classes_covered"], quality["class_entropy"]
            self.best = max(self.best, covered)
            lost = self.best >= FOUND_SHARE * self.num_classes and covered <= COLLAPSE_SHARE * self.best
            if lost or (epoch >= ONE_KIND_FROM and entropy < ONE_KIND_BITS):
                before = f"found {self.best} of {self.num_classes} classes earlier and finds {covered} now" if lost \
                    else f"finds nearly a single class ({covered} of {self.num_classes})"
                found["collapse"] = (
                    f"epoch {epoch}: mode collapse — among the generated images the judge {before} (class entropy "
                    f"{entropy:.2f} of {math.log2(self.num_classes):.2f} bits): the generator makes a few kinds of "
                    f"image whatever the noise; try label smoothing, a lower generator learning rate, a larger "
                    f"latent vector or more discriminator steps")
        new = [("diagnosis", text) for key, text in found.items() if key not in self.said]
        new += [("diagnosis_over", self._over(key, epoch, figures, quality)) for key in sorted(self.said - set(found))]
        self.said = set(found)   # said again only after it cleared
        return new

    @staticmethod
    def _over(key: str, epoch: int, figures: dict, quality: dict | None) -> str:
        """A failure that passed is said too: GANs often recover, and the last word should be the current one."""
        if key == "winning":
            fake, accuracy = figures.get("d_fake", float("nan")), figures.get("d_accuracy", float("nan"))
            return (f"epoch {epoch}: the discriminator no longer wins — D(G(z)) = {fake:.2f}, it tells "
                    f"{accuracy:.0%} of each batch apart")
        covered = quality["classes_covered"] if quality else "?"
        entropy = f"{quality['class_entropy']:.2f}" if quality else "?"
        return (f"epoch {epoch}: the collapse is over — the judge finds {covered} classes among the generated "
                f"images again (class entropy {entropy} bits)")
