"""Environment: a reinforcement-learning run seen as it plays and learns.

The run sends the first environment's play of every ``frame_every``-th update (EnvFrames); this view
replays it at its own pace with a QTimer, drawn with QPainter from the physical state (the cart and
pole of CartPole-v1, the two links of Acrobot-v1 — no pygame), with the policy's action probabilities
and the value estimate of each state as bars beside it. Frames that arrive faster than they are shown
are skipped to the latest, so drawing never holds the run back (the run thread only sends arrays).
Beside it the curves of each update (EpochEnd heads): the episode return with its running mean and
the environment's target, the episode length, both losses, the entropy and the value model's
prediction against the returns it is held to; a Step's update taken apart (UpdateInspected) is a table
with each layer's gradient norm in words. A finished run reopened from its folder (``open_run``: Runs ▸
Analyse) shows its curves from history.csv and replays its saved policy greedily.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tapedeck.engine.spec.objectives import OBJECTIVES
from tapedeck.engine.training.events import EnvFrames, EpochEnd, Finished, RunStarted, UpdateInspected
from tapedeck.gui.threads.jobs import Job
from tapedeck.gui.widgets.env_drawing import ACTION_NAMES, ActionBars, EnvCanvas, action_names
from tapedeck.gui.widgets.greedy_play import GREEDY
from tapedeck.gui.widgets.layer_gradients import gradient_words
from tapedeck.gui.widgets.plain_axes import plain_axes

__all__ = ["EnvironmentPanel", "EnvCanvas", "ActionBars", "ACTION_NAMES", "action_names"]

DRAWN = ("CartPole-v1", "Acrobot-v1")
# Frames per second the play is replayed at (the speed control); 0: jump to each update's last state.
SPEEDS = (("Slow, 15 steps/s", 15), ("Normal, 50/s", 50), ("Fast, 150/s", 150), ("Latest state only", 0))
# Curves per plot: plot key → (title, left label, ((figure name, legend, colour, points?), ...)).
PLOTS = {
    "return": ("Return", (("episode_return", "each update", "#8a96a3", True),
                                  ("return_mean", "running mean", "#2c6fbb", False))),
    "length": ("Episode length", (("episode_length", "", "#8e44ad", True),)),
    "policy": ("Policy loss", (("policy_loss", "", "#c0392b", True),)),
    "value": ("Value loss", (("value_loss", "", "#d35400", True),)),
    "entropy": ("Entropy", (("entropy", "", "#27ae60", True),)),
    "predicted": ("Value vs return", (("value_mean", "predicted", "#2c6fbb", True),
                            ("return_target_mean", "vs actual return", "#1e1e1e", True))),
}

def _coloured(colour: str, text: str) -> str:
    return f"<span style='color:{colour}'>{text}</span>"


# The plots' colours in words, above them (PLOTS' colours).
KEY = (f"Return: {_coloured('#8a96a3', '• each update')} · {_coloured('#2c6fbb', '━ running mean of 100')} · "
       f"{_coloured('#27ae60', '╌ target')}. Value: {_coloured('#2c6fbb', '• predicted')} vs "
       f"{_coloured('#1e1e1e', '• the return it is held to')}.")
TABLE_ROWS = 500   # the Step table shows at most this many steps of the update


def _plot(title: str, curves) -> object:
    """A small plot with a short title (a longer one widens the plot past its cell and clips it; a legend
    covered the curves): the key of its colours is said above the plots (KEY)."""
    import pyqtgraph as pg

    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(title, color="#222", size="9pt")
    item.setLabel("bottom", "update")
    plain_axes(item)
    item.showGrid(x=True, y=True, alpha=0.25)
    widget.setMinimumSize(120, 110)
    return widget


class EnvironmentPanel(QWidget):
    """Fed by the run's events (``handle``); ``objective_of()`` gives the edited objective, whose target
    line the return plot draws (the run's own copy is the same while it runs: the editor is locked)."""

    def __init__(self, objective_of=None, parent=None):
        super().__init__(parent)
        self.objective_of = objective_of
        self.canvas = EnvCanvas(self)
        self.bars = ActionBars(self)
        self.speed = QComboBox(self)
        for text, fps in SPEEDS:
            self.speed.addItem(text, fps)
        self.speed.setCurrentIndex(1)
        self.speed.setToolTip("How fast the sampled play is replayed; the run itself never waits for the drawing")
        self.speed.currentIndexChanged.connect(self._speed_changed)
        self.where = QLabel(self)
        self.where.setWordWrap(True)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.replay_button = QPushButton("Greedy replay", self)
        self.replay_button.setToolTip("Replay the greedy policy: one episode of the finished run's saved policy "
                                      "choosing the most probable action, drawn here (played off the GUI thread)")
        self.replay_button.clicked.connect(self.replay_greedy)
        self._replay_job = Job("tapedeck-greedy-replay", self)
        self._open_job = Job("tapedeck-rl-reopen", self)
        self._reopened = None   # a finished run read back from its folder (open_run)
        self.run_dir = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.plots = {key: _plot(title, curves) for key, (title, curves) in PLOTS.items()}
        self.curves: dict = {}
        self.target_line = None
        self.step_words = QLabel(self)
        self.step_words.setWordWrap(True)
        self.step_words.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.step_table = QTableWidget(0, 6, self)
        self.step_table.setHorizontalHeaderLabels(["step", "action", "probability", "return", "advantage", "value"])
        self.step_table.verticalHeader().setVisible(False)
        self.step_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.step_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self._layout()
        self.clear_run()

    def _layout(self) -> None:
        speed_row = QHBoxLayout()
        speed_row.addWidget(QLabel("Replay:", self))
        speed_row.addWidget(self.speed, 1)
        replay_row = QHBoxLayout()   # a row of its own: beside the speed it widened the column, clipping the plots
        replay_row.addStretch(1)
        replay_row.addWidget(self.replay_button)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 3)
        left.addWidget(self.where)
        left.addWidget(self.bars, 2)
        left.addLayout(speed_row)
        left.addLayout(replay_row)
        left.addWidget(self.caption)
        curves = QWidget(self)
        grid = QGridLayout(curves)
        grid.setContentsMargins(2, 2, 2, 2)
        key = QLabel(KEY, curves)
        key.setWordWrap(True)
        grid.addWidget(key, 0, 0, 1, 2)
        for index, name in enumerate(PLOTS):
            grid.addWidget(self.plots[name], 1 + index // 2, index % 2)
        step = QWidget(self)
        column = QVBoxLayout(step)
        column.addWidget(self.step_words)
        column.addWidget(self.step_table, 1)
        self.right = QTabWidget(self)
        self.right.addTab(curves, "Curves")
        self.right.addTab(step, "Last Step")
        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addWidget(self.right, 3)

    # -- events ------------------------------------------------------------------------------
    def handle(self, event) -> None:
        if isinstance(event, RunStarted):
            kind = OBJECTIVES.get(event.objective)
            if kind is not None and kind.data == "environment":
                self.clear_run()
                self.caption.setText(f"{event.name}: {kind.title} · {event.loop} · {event.api}")
                self.actions = [f"action {i}" for i in range(event.num_classes)]
                objective = self.objective_of() if self.objective_of else None
                if objective is not None and "env" in objective.settings:
                    self.actions = action_names(objective.settings["env"], event.num_classes)
                    self._target_line(self._target_of(objective))
                self._earlier_updates(event)
        elif isinstance(event, EpochEnd) and "episode_return" in event.heads:
            self._epoch(event)
        elif isinstance(event, EnvFrames):
            self._frames(event)
        elif isinstance(event, UpdateInspected):
            self._inspected(event)
        elif isinstance(event, Finished) and self.history:
            self.caption.setText(f"Run {event.reason.replace('_', ' ')}: {event.message}")
            self.run_dir = event.run_dir if event.reason in ("completed", "stopped", "early_stopped") else None
            self.replay_button.setEnabled(self.run_dir is not None)

    def clear_run(self) -> None:
        self.timer.stop()
        self.run_dir = None
        self._reopened = None
        self.replay_button.setEnabled(False)
        self.env_id = None
        self.actions: list[str] = []   # the environment's actions in words (RunStarted)
        self.target = None
        self.pending: EnvFrames | None = None   # the newest play not yet shown
        self.playing: EnvFrames | None = None
        self.index = 0
        self.shown_frames = 0                   # states drawn this run (the tests count them)
        self.episode_return = 0.0
        self.history: dict[str, list] = {}
        for name, curve in self.curves.items():
            self.plots[self._plot_of(name)].getPlotItem().removeItem(curve)
        self.curves.clear()
        if self.target_line is not None:
            self.plots["return"].getPlotItem().removeItem(self.target_line)
            self.target_line = None
        self.canvas.show_state("", None)
        self.bars.clear()
        self.where.setText("")
        self.caption.setText("")
        self.step_words.setText("Step (F10) trains one update and takes it apart here: the steps it learned "
                                "from, the actions chosen, their returns and advantages.")
        self.step_table.setRowCount(0)

    @staticmethod
    def _target_of(objective):
        """The objective's own target, else gymnasium's reward threshold (475 for CartPole-v1); None: neither."""
        target = objective.settings.get("target")
        if target is None:
            from tapedeck.engine.objectives.environments import EnvError, env_spaces

            try:
                target = env_spaces(objective.settings["env"]).threshold
            except EnvError:
                target = None
        return target

    def _target_line(self, target) -> None:
        """The environment's target as a dashed line on the return plot."""
        if target is None:
            return
        import pyqtgraph as pg

        self.target = float(target)
        self.target_line = pg.InfiniteLine(pos=self.target, angle=0, pen=pg.mkPen("#27ae60", width=1.5,
                                                                                  style=Qt.DashLine),
                                           label=f"target {self.target:g}",
                                           labelOpts={"position": 0.05, "color": "#1e7b34",
                                                      "anchors": [(0, 0), (0, 0)]})
        self.plots["return"].getPlotItem().addItem(self.target_line)

    def _plot_of(self, name: str) -> str:
        return next(key for key, (_t, curves) in PLOTS.items() if any(c[0] == name for c in curves))

    def _earlier_updates(self, event: RunStarted) -> None:
        """A resumed run's curves begin with the updates trained before (its history.csv), as the Training tab's."""
        if event.initial_epoch <= 0 or not event.run_dir:
            return
        from tapedeck.engine.runs.folder import RunFolder
        from tapedeck.gui.widgets.greedy_play import NOT_FIGURES

        for row in RunFolder(event.run_dir).history_until(event.initial_epoch):
            self._add(int(row["epoch"]), {k: v for k, v in row.items() if k not in NOT_FIGURES})
        self._draw_curves()

    def _epoch(self, event: EpochEnd) -> None:
        self._add(event.epoch, event.heads)
        self._draw_curves()

    def _add(self, update: int, figures: dict) -> None:
        for name, value in figures.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.history.setdefault(name, []).append((update, float(value)))

    def _draw_curves(self) -> None:
        for key, (_title, curves) in PLOTS.items():
            for name, legend, colour, points in curves:
                rows = self.history.get(name)
                if not rows:
                    continue
                if name not in self.curves:
                    style = {"symbol": "o", "symbolSize": 3, "symbolBrush": colour, "symbolPen": None} if points else {}
                    self.curves[name] = self.plots[key].plot([], [], pen={"color": colour, "width": 1 if points else 2},
                                                             **style)
                self.curves[name].setData([x for x, _ in rows], [y for _, y in rows])
        self._return_range()

    def _return_range(self) -> None:
        """The return plot's height takes in the target line, so one sees how far from it the run is."""
        target = self.target
        values = [y for name in ("episode_return", "return_mean") for _x, y in self.history.get(name, [])]
        if target is None or not values:
            return
        low, high = min(min(values), target), max(max(values), target)
        pad = 0.08 * max(high - low, 1.0)
        self.plots["return"].getPlotItem().setYRange(low - pad, high + pad, padding=0)

    # -- a finished run, reopened from its folder --------------------------------------------------------
    @property
    def showing_run(self) -> bool:
        """A run reopened from its folder is on show (the window keeps the tab then, whatever is edited)."""
        return self._reopened is not None

    def open_run(self, run_dir) -> None:
        """Show a finished RL run from its folder: its curves per update and Greedy replay of its policy.keras.
        The folder is read off the GUI thread (gymnasium is asked for the environment's actions and target)."""
        from tapedeck.gui.widgets.greedy_play import read_run

        run_dir = str(run_dir)
        if self._open_job.running:
            return
        self.caption.setText(f"Opening {run_dir}…")
        self._open_job.start(lambda: read_run(run_dir), self._reopened_run)

    def _reopened_run(self, run, error) -> None:
        if error:
            self.caption.setText(f"<span style='color:#b03a2e'>Cannot show {error}</span>")
            return
        if self._replay_job.running:   # a replay of another run would land on this one's curves
            self._replay_job.cancel()
        self.clear_run()
        self._reopened = run
        objective = run.experiment.objective
        self.actions = action_names(objective.env, run.actions) if run.actions else []
        self._target_line(run.target)
        for update, figures in run.history:
            self._add(update, figures)
        self._draw_curves()
        self.run_dir = run.run_dir if run.has_policy else None
        self.replay_button.setEnabled(self.run_dir is not None)
        kind = OBJECTIVES[objective.kind]
        ended = run.metrics.get("message") or run.metrics.get("status") or "its end is not recorded"
        replay = "Greedy replay plays its saved policy." if run.has_policy else (
            "It saved no policy.keras (it ended before its first update), so there is nothing to replay.")
        self.caption.setText(f"{run.experiment.name} ({Path(run.run_dir).name}), reopened: {len(run.history)} "
                             f"update(s) of {kind.title} on {objective.env}. It ended: {ended}. {replay}")
        self.where.setText("")

    # -- a finished run's greedy policy -----------------------------------------------------------------
    def replay_greedy(self) -> None:
        if self.run_dir is None or self._replay_job.running:
            return
        from tapedeck.gui.widgets.greedy_play import greedy_episode

        run_dir = self.run_dir
        self.replay_button.setEnabled(False)
        self.where.setText("Playing one greedy episode of the saved policy…")
        self._replay_job.start(lambda: greedy_episode(run_dir), self._replayed)

    def _replayed(self, frames, error) -> None:
        self.replay_button.setEnabled(self.run_dir is not None)
        if error:
            self.where.setText(f"<span style='color:#b03a2e'>{error}</span>")
            return
        self.playing = None   # the replay starts at once, whatever was being shown
        self._frames(frames)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        return self._replay_job.shutdown(timeout_ms) and self._open_job.shutdown(timeout_ms)

    # -- the play, animated ----------------------------------------------------------------------
    def _frames(self, event: EnvFrames) -> None:
        if len(event.actions) == 0:
            return
        self.env_id = event.env_id
        self.pending = event   # an older one not yet begun is dropped: the drawing follows the run
        if self.playing is None:
            self._next_play()
        self._speed_changed()

    def _next_play(self) -> bool:
        if self.pending is None:
            return False
        self.playing, self.pending, self.index = self.pending, None, 0
        self.episode_return = 0.0
        return True

    def _speed_changed(self, *_args) -> None:
        fps = self.speed.currentData()
        if self.playing is None:
            return
        if fps == 0:
            self.timer.stop()
            play = self.playing
            self.index = len(play.actions) - 1
            ended = np.flatnonzero(play.episode_ends[:self.index])   # the return of the episode under way
            self.episode_return = float(np.sum(play.rewards[ended[-1] + 1 if len(ended) else 0:self.index]))
            self._show(self.index)
            return
        self.timer.setInterval(int(1000 / fps))
        if not self.timer.isActive():
            self.timer.start()

    def _tick(self) -> None:
        play = self.playing
        if play is None:
            self.timer.stop()
            return
        if self.index >= len(play.actions):
            if not self._next_play():
                self.timer.stop()   # hold the last state until the next update's play arrives
                return
            play = self.playing
        self._show(self.index)
        self.index += 1

    def _show(self, t: int) -> None:
        play = self.playing
        action = int(play.actions[t])
        names = action_names(play.env_id, play.probabilities.shape[1])
        self.canvas.show_state(play.env_id, play.states[t], action)
        self.bars.show_step(names, play.probabilities[t], action, play.values[t])
        self.episode_return += float(play.rewards[t])
        played = "The greedy policy" if play.update == GREEDY else f"Update {play.update}"
        self.where.setText(f"{played}, step {t + 1} of {len(play.actions)} played · "
                           f"return so far {self.episode_return:g} · {names[action]}")
        if bool(play.episode_ends[t]):
            self.where.setText(self.where.text() + " · the episode ended")
            self.episode_return = 0.0
        self.shown_frames += 1

    # -- Step ------------------------------------------------------------------------------------
    def _inspected(self, event: UpdateInspected) -> None:
        """The update a Step took, in words and as a table of the steps it learned from."""
        count = len(event.actions)
        names = self.actions or [f"action {i}" for i in range(int(event.actions.max()) + 1 if count else 0)]
        chosen = np.bincount(np.asarray(event.actions, dtype=int), minlength=len(names)) if count else []
        share = ", ".join(f"{names[i] if i < len(names) else i} {n / max(count, 1):.0%}" for i, n in enumerate(chosen))
        figures = event.figures
        norms = "; ".join(f"{role} {figures[key]:.3g}" for role, key in (("policy", "policy_grad_norm"),
                                                                        ("value", "value_grad_norm")) if key in figures)
        words = [f"Update {event.update} learned from {count:,} step(s) of play.",
                 f"Actions chosen: {share}." if count else "",
                 f"Returns: mean {np.mean(event.returns):.2f}, from {np.min(event.returns):.2f} to "
                 f"{np.max(event.returns):.2f}. Advantages (how much better than expected): mean "
                 f"{np.mean(event.advantages):+.2f}, spread {np.std(event.advantages):.2f}." if count else "",
                 f"Gradient norm of each model before the update (all its layers together): {norms}." if norms else "",
                 f"Of each layer: {gradient_words(getattr(event, 'layers', ()))}." if getattr(event, "layers", ())
                 else "",
                 f"Policy loss {figures.get('policy_loss', math.nan):.4f}, "
                 f"entropy {figures.get('entropy', math.nan):.3f}."]
        if count > TABLE_ROWS:
            words.append(f"The table shows its first {TABLE_ROWS} steps.")
        self.step_words.setText(" ".join(w for w in words if w))
        rows = min(count, TABLE_ROWS)
        self.step_table.setRowCount(rows)
        for row in range(rows):
            action = int(event.actions[row])
            cells = (str(row + 1), names[action] if action < len(names) else str(action),
                     f"{event.probabilities[row]:.3f}", f"{event.returns[row]:.2f}", f"{event.advantages[row]:+.3f}",
                     "—" if not math.isfinite(float(event.values[row])) else f"{event.values[row]:.2f}")
            for column, text in enumerate(cells):
                self.step_table.setItem(row, column, QTableWidgetItem(text))
        self.step_table.resizeColumnsToContents()
        self.right.setCurrentIndex(1)
