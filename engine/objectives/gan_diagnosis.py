"""Why a GAN fails, in words, from the figures every epoch already has.

Two failures are common enough to name: the discriminator wins (it tells every generated image apart,
D(G(z)) → 0, and the generator's gradient shrinks so it stops learning), and mode collapse (the judge
finds only a few classes among the generated images). Each note is said once when it appears.
"""
from __future__ import annotations

import math

__all__ = ["Diagnosis"]

WINNING_FAKE = 0.05      # mean D(G(z)) below this (bce) ...
WINNING_ACCURACY = 0.95  # ... while D tells this share of the batch apart
COLLAPSE_SHARE = 0.5     # the judge finds at most half the classes, or half the entropy ...
COLLAPSE_FROM = 5        # ... from this epoch on (before it the generator has barely begun)


class Diagnosis:
    def __init__(self, num_classes: int, loss: str):
        self.num_classes, self.loss = int(num_classes), loss
        self.said: set = set()

    def notes(self, epoch: int, figures: dict, quality: dict | None) -> list[str]:
        found = {}
        if self.loss == "bce" and figures.get("d_fake", 1.0) < WINNING_FAKE and \
                figures.get("d_accuracy", 0.0) > WINNING_ACCURACY:
            found["winning"] = (
                f"epoch {epoch}: the discriminator is winning — D(G(z)) = {figures['d_fake']:.3f}, it tells "
                f"{figures['d_accuracy']:.0%} of each batch apart and the generator's gradient norm is "
                f"{figures.get('g_grad_norm', float('nan')):.2g}; weaken it (fewer filters, more dropout, a lower "
                f"learning rate or label smoothing) or give the generator more steps")
        if quality and epoch >= COLLAPSE_FROM and self.num_classes > 1:
            covered, entropy = quality["classes_covered"], quality["class_entropy"]
            if covered <= COLLAPSE_SHARE * self.num_classes or entropy < COLLAPSE_SHARE * math.log2(self.num_classes):
                found["collapse"] = (
                    f"epoch {epoch}: mode collapse — the judge finds {covered} of {self.num_classes} classes "
                    f"among the generated images (class entropy {entropy:.2f} of {math.log2(self.num_classes):.2f} "
                    f"bits); try label smoothing, a lower generator learning rate or more discriminator steps")
        new = [text for key, text in found.items() if key not in self.said]
        self.said = set(found)   # said again only after it cleared
        return new
