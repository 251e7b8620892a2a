"""Issue 23, fault 3: a resumed run's curves show its whole history, on plain tick labels."""
from __future__ import annotations

import numpy as np

from tapedeck.engine.runs.folder import RunFolder
from tapedeck.engine.training.events import EpochEnd, RunStarted
from tapedeck.gui.tabs.training_tab import TrainingPanel


def _started(run_dir, initial_epoch: int, epochs: int) -> RunStarted:
    return RunStarted(run_dir=str(run_dir), name="n", summary="", trainable=10, non_trainable=0, epochs=epochs,
                      steps_per_epoch=5, batch_size=4, num_classes=2, class_names=["a", "b"],
                      sample_images=np.zeros((2, 4, 4, 1), np.float32), sample_labels=np.array([0, 1]),
                      initial_epoch=initial_epoch)


def _row(epoch, loss):
    return {"epoch": epoch, "loss": loss, "accuracy": 0.5 + epoch / 10, "val_loss": loss + 0.01,
            "val_accuracy": 0.5, "learning_rate": 0.003, "seconds": 1.0}


def test_a_resumed_run_draws_the_epochs_before_it_on_plain_ticks(qtbot, tmp_path):
    RunFolder(tmp_path).write_history([_row(1, 0.61), _row(2, 0.32), _row(3, 0.9)])   # 3: past the checkpoint
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.build_plots()
    panel.resize(900, 600)
    panel.show()
    panel.handle(_started(tmp_path, initial_epoch=2, epochs=4))
    panel.handle(EpochEnd(epoch=3, loss=0.25, accuracy=0.9, val_loss=0.3, val_accuracy=0.88,
                          learning_rate=0.003, seconds=1.0))
    panel.redraw()
    x, y = panel.epoch_loss.view()
    assert list(x) == [1, 2, 3] and np.allclose(y, [0.61, 0.32, 0.25])
    assert panel.loss_plot.getPlotItem().getViewBox().viewRange()[0][0] <= 1   # epoch 1 in view
    for plot in (panel.loss_plot, panel.acc_plot, panel.lr_plot):
        item = plot.getPlotItem()
        item.getViewBox().setYRange(0.0001, 0.0006)          # where pyqtgraph said "(×0.001)", ticks 100-600
        qtbot.wait(10)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            assert not axis.autoSIPrefix and axis.autoSIPrefixScale == 1.0
            assert "(x" not in axis.labelString()


def test_a_fresh_run_starts_empty(qtbot, tmp_path):
    RunFolder(tmp_path).write_history([_row(1, 0.61)])
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.handle(_started(tmp_path, initial_epoch=0, epochs=2))
    assert panel.epoch_loss.size == 0


def test_no_plot_of_the_window_scales_its_axes_by_an_si_prefix(window, qtbot):
    import pyqtgraph as pg

    from tapedeck.gui.runs.run_curves import RunCurves
    from tapedeck.gui.runs.run_plots import delete_plot_widgets, run_plot_widgets

    window.training.build_plots()
    window.training.head_curves._build()
    window.tabs.setCurrentWidget(window.step_panel)     # builds its Gradients plot
    qtbot.wait(20)
    curves = RunCurves()
    qtbot.addWidget(curves)
    curves._build()
    exported = run_plot_widgets([_row(1, 0.0003), _row(2, 0.0002)], "run")
    try:
        widgets = window.findChildren(pg.PlotWidget) + curves.findChildren(pg.PlotWidget) + list(exported.values())
        assert len(widgets) >= 9
        for widget in widgets:
            for name in ("left", "bottom"):
                owner, chain = widget, []
                while owner is not None:
                    chain.append(type(owner).__name__)
                    owner = owner.parent()
                assert not widget.getPlotItem().getAxis(name).autoSIPrefix, (name, chain)
    finally:
        delete_plot_widgets(exported.values())
