"""Each layer's gradient norm in a Step's words, model by model: the GAN's Step (Samples tab) and an RL
update's (Environment tab) both take their layers apart this way, from (model role, layer, norm) triples."""
from __future__ import annotations

import math

__all__ = ["gradient_words"]


def gradient_words(layers, limit: int | None = None) -> str:
    """"generator: dense 0.12, dense_1 0.034; discriminator: conv 1.2" — in the order given, at most ``limit``
    layers (the rest counted), so a long stack stays one readable sentence. Empty when there are none."""
    layers = list(layers)
    shown = layers if limit is None else layers[:limit]
    by_role: dict[str, list[str]] = {}
    for role, layer, norm in shown:
        layer, value = str(layer).removeprefix(f"{role}/"), float(norm)   # "policy/dense": said once, as its model
        by_role.setdefault(str(role), []).append(f"{layer} {value:.2g}" if math.isfinite(value) else f"{layer} {value}")
    words = "; ".join(f"{role}: {', '.join(parts)}" for role, parts in by_role.items())
    if len(layers) > len(shown):
        words += f"; and {len(layers) - len(shown)} more layer(s)"
    return words
