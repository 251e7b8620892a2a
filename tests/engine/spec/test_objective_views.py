"""The objectives table says which views and Samples-tab controls an objective's runs get, so the window asks
it instead of comparing objective names: every name it lists is one the window knows, and every objective
whose samples are shown has a model that makes the images."""
from __future__ import annotations

from tapedeck.engine.spec.objectives import OBJECTIVES, ObjectiveSpec, image_maker, objective_kind

TABS = {"predictions", "step", "samples", "environment"}
SAMPLES_CONTROLS = {"step_models", "class_prompt", "encode"}


def test_every_view_is_a_tab_or_a_samples_control_and_controls_come_with_samples():
    for name, kind in OBJECTIVES.items():
        assert set(kind.views) <= TABS | SAMPLES_CONTROLS, name
        if set(kind.views) & SAMPLES_CONTROLS:
            assert "samples" in kind.views, name


def test_the_samples_controls_of_each_generative_objective():
    assert set(OBJECTIVES["gan"].views) & SAMPLES_CONTROLS == {"step_models"}
    assert set(OBJECTIVES["cgan"].views) & SAMPLES_CONTROLS == {"step_models", "class_prompt"}
    assert set(OBJECTIVES["vae"].views) & SAMPLES_CONTROLS == {"encode"}


def test_the_image_maker_is_the_role_whose_output_is_an_image():
    assert image_maker(OBJECTIVES["gan"]) == "generator" == image_maker(OBJECTIVES["cgan"])
    assert image_maker(OBJECTIVES["vae"]) == "decoder"
    assert image_maker(OBJECTIVES["classify"]) is None
    for name, kind in OBJECTIVES.items():
        if "samples" in kind.views:
            assert image_maker(kind) in kind.models, name


def test_objective_kind_takes_a_section_or_its_name():
    assert objective_kind("vae") is objective_kind(ObjectiveSpec("vae")) is OBJECTIVES["vae"]
