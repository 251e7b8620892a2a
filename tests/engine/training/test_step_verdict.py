"""Issue 23, fault 10: the step verdict's healthy band follows the optimizer. Figures from the digits
CNN (batch 16), measured with `tapedeck step --loop tape --steps 30 --every 10` (see health.py)."""
from __future__ import annotations

from tapedeck.engine.training.health import judged, verdict, what_to_look_at

ADAM_DEFAULT_STEP_1 = (0.0397, 0.0597, 0.045, 0.0148)    # Adam 0.003: the preset reaches ~95 % in 3 epochs
ADAM_TOO_HIGH_STEP_1 = (1.32, 1.99, 1.5, 0.492)          # Adam 0.1: its ReLUs die by step 10
SGD_DEFAULT = (0.00202, 0.000726, 0.000525, 0.000479)    # SGD 0.01
SGD_TOO_HIGH = (0.202, 0.0726, 0.0525)                   # SGD 1.0


def test_adams_first_steps_on_the_default_preset_are_healthy():
    assert [judged(r, "adam") for r in ADAM_DEFAULT_STEP_1] == ["ok"] * 4
    assert all(verdict(r, "adam") == "learning" for r in ADAM_DEFAULT_STEP_1)
    assert judged(0.0597) == "high"                     # what the window said before: SGD's band


def test_too_high_rates_are_still_called_out():
    assert all(judged(r, "adam") == "high" for r in ADAM_TOO_HIGH_STEP_1)
    assert "lower the learning rate" in verdict(1.32, "adam")
    assert all(judged(r, "sgd") == "high" for r in SGD_TOO_HIGH)
    assert all(judged(r, "sgd") == "ok" for r in SGD_DEFAULT)


def test_a_layer_without_gradient_is_dead_whatever_its_ratio():
    assert judged(0.0588, "adam", zero_grad_share=1.0) == "dead"
    assert "dead" in verdict(0.0588, "adam", 1.0)
    assert judged(0.02, "adam", zero_grad_share=0.6) == "ok"


def test_the_guide_says_what_to_look_at():
    assert "learning rate in its first steps" in what_to_look_at("adam")
    assert "1e-3" in what_to_look_at("sgd")
