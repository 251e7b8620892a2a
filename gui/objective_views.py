"""Which tab shows a finished run reopened from its folder (Runs ▸ Analyse, a double-click in a run table, a
run's end): a classifier's goes to the Analysis tab, which predicts its test set; an objective with a view of
its own shows it there — a GAN's or VAE's pictures and figures per epoch in the Samples tab, an agent's curves
and greedy replay in the Environment tab. The objectives table (``ObjectiveKind.views``) decides, so a new
objective's runs follow its view without another test here.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["objective_view", "show_in_objective_view"]


def objective_view(run_dir) -> str | None:
    """"samples" or "environment" for a run its objective's own tab shows; None for a classifier's run (the
    Analysis tab's) and for a folder whose experiment.json does not load (the Analysis tab says why)."""
    from tapedeck.engine.spec.experiment import ExperimentError, load_experiment
    from tapedeck.engine.spec.objectives import objective_kind

    try:
        experiment = load_experiment(Path(run_dir) / "experiment.json")
    except (ExperimentError, OSError):
        return None
    views = objective_kind(experiment.objective).views
    return next((view for view in ("samples", "environment") if view in views), None)


def show_in_objective_view(window, run_dir) -> bool:
    """Open the run in its objective's tab and bring the tab forward; False: the Analysis tab's to show.
    While a run trains, its events fill those tabs: an old run shown there would get the new run's curves, so
    the person is told to open it once the run has ended."""
    view = objective_view(run_dir)
    if view is not None and window.controller.running:
        tab = "Samples" if view == "samples" else "Environment"
        window.show_notice(f"The {tab} tab is showing the run in progress: analyse {Path(run_dir).name} once it "
                           "has ended (or stop it).")
        return True
    if view == "samples":
        window.show_generative_run(run_dir)
    elif view == "environment":
        panel = window.environment
        panel.open_run(run_dir)
        window.tabs.setTabVisible(window.tabs.indexOf(panel), True)   # whatever objective is being edited
        window.tabs.setCurrentWidget(panel)
    return view is not None
