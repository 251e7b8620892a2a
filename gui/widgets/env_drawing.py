"""The environment drawn from its physical state, and the policy's view of that state, for the Environment tab.

EnvCanvas paints one state with QPainter (the cart and pole of CartPole-v1, the two links of Acrobot-v1 — no
pygame); ActionBars the policy's probability of each action there and the value model's estimate.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["EnvCanvas", "ActionBars", "ACTION_NAMES", "OBSERVATION_NAMES", "action_names"]

ACTION_NAMES = {"CartPole-v1": ("push left", "push right"),
                "Acrobot-v1": ("torque −1", "no torque", "torque +1"),
                "MountainCar-v0": ("push left", "no push", "push right")}
# What each value of the observation is (gymnasium's documentation of each environment)
OBSERVATION_NAMES = {"CartPole-v1": ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
                     "Acrobot-v1": ("cos θ1", "sin θ1", "cos θ2", "sin θ2", "θ1 velocity", "θ2 velocity"),
                     "MountainCar-v0": ("car position", "car velocity")}


def action_names(env_id: str, count: int) -> list[str]:
    names = ACTION_NAMES.get(env_id, ())
    return list(names) if len(names) == count else [f"action {i}" for i in range(count)]


class EnvCanvas(QWidget):
    """The environment at one state, drawn from its physics: ``show(env_id, state, action)``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.env_id = ""
        self.state = None
        self.action = None
        self.setMinimumSize(200, 140)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def show_state(self, env_id: str, state, action=None) -> None:
        self.env_id, self.state, self.action = env_id, state, action
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        painter.setPen(QPen(QColor("#c8ccd0"), 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self.state is None:
            self._words(painter, "The environment is drawn here as the policy plays\n"
                                 "(every frame_every-th update of a run).")
        elif self.env_id == "CartPole-v1":
            self._cartpole(painter, np.asarray(self.state, dtype=float))
        elif self.env_id == "Acrobot-v1":
            self._acrobot(painter, np.asarray(self.state, dtype=float))
        else:
            self._words(painter, f"{self.env_id} trains without a drawing: Tapedeck draws CartPole-v1 and "
                                 "Acrobot-v1.\nIts action probabilities and value estimate are beside.")
        painter.end()

    def _words(self, painter: QPainter, text: str) -> None:
        painter.setPen(QColor("#555"))
        painter.drawText(self.rect().adjusted(12, 12, -12, -12), Qt.AlignCenter | Qt.TextWordWrap, text)

    def _cartpole(self, painter: QPainter, state) -> None:
        """gymnasium's geometry: the track spans ±2.4 (the episode ends beyond it), the pole is 1.0 long
        and fails beyond ±12°."""
        x, theta = state[0], state[2]
        width, height = self.width(), self.height()
        scale = min(width / 5.4, height / 1.9)
        centre_x, track_y = width / 2, height * 0.72
        painter.setPen(QPen(QColor("#444"), 2))
        painter.drawLine(QPointF(centre_x - 2.4 * scale, track_y), QPointF(centre_x + 2.4 * scale, track_y))
        for edge in (-2.4, 2.4):   # where the episode ends
            painter.setPen(QPen(QColor("#b03a2e"), 2))
            at = centre_x + edge * scale
            painter.drawLine(QPointF(at, track_y - 8), QPointF(at, track_y + 8))
        cart_w, cart_h = 0.5 * scale, 0.3 * scale
        cart_x = centre_x + x * scale
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor("#2c3e50"))
        painter.drawRect(QRectF(cart_x - cart_w / 2, track_y - cart_h, cart_w, cart_h))
        pivot = QPointF(cart_x, track_y - cart_h)
        tip = QPointF(cart_x + math.sin(theta) * scale, pivot.y() - math.cos(theta) * scale)
        failing = abs(theta) > 12 * math.pi / 180
        painter.setPen(QPen(QColor("#b03a2e" if failing else "#c9a227"), max(3.0, 0.1 * scale), Qt.SolidLine,
                            Qt.RoundCap))
        painter.drawLine(pivot, tip)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor("#7f8c8d"))
        painter.drawEllipse(pivot, 4, 4)
        if self.action is not None:   # the push just chosen, as an arrow under the cart
            direction = 1 if int(self.action) == 1 else -1
            y = track_y + 14
            painter.setPen(QPen(QColor("#2c6fbb"), 3))
            start, end = QPointF(cart_x - direction * 14, y), QPointF(cart_x + direction * 14, y)
            painter.drawLine(start, end)
            painter.drawLine(end, QPointF(end.x() - direction * 6, y - 5))
            painter.drawLine(end, QPointF(end.x() - direction * 6, y + 5))
        self._caption(painter, f"x {x:+.2f}   angle {math.degrees(theta):+.1f}°")

    def _acrobot(self, painter: QPainter, state) -> None:
        """Two links of length 1 hanging from a pivot; the episode is won when the free end rises above the
        line one link above the pivot (-cos θ1 - cos(θ1 + θ2) > 1)."""
        theta1, theta2 = state[0], state[1]
        width, height = self.width(), self.height()
        scale = min(width, height) / 4.8
        pivot = QPointF(width / 2, height / 2)

        def point(x, y):
            return QPointF(pivot.x() + x * scale, pivot.y() - y * scale)

        elbow = (math.sin(theta1), -math.cos(theta1))
        end = (elbow[0] + math.sin(theta1 + theta2), elbow[1] - math.cos(theta1 + theta2))
        painter.setPen(QPen(QColor("#27ae60"), 1, Qt.DashLine))
        painter.drawLine(point(-2.2, 1.0), point(2.2, 1.0))
        for start, stop in ((pivot, point(*elbow)), (point(*elbow), point(*end))):
            painter.setPen(QPen(QColor("#2c3e50"), max(4.0, 0.12 * scale), Qt.SolidLine, Qt.RoundCap))
            painter.drawLine(start, stop)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor("#c9a227"))
        for joint in (pivot, point(*elbow)):
            painter.drawEllipse(joint, 5, 5)
        self._caption(painter, f"height of the end {end[1]:+.2f} (goal above 1)")

    def _caption(self, painter: QPainter, text: str) -> None:
        painter.setPen(QColor("#555"))
        painter.drawText(self.rect().adjusted(8, 6, -8, -6), Qt.AlignLeft | Qt.AlignTop, text)


class ActionBars(QWidget):
    """The policy's probability of each action at the shown state, and the value model's estimate."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.names: list[str] = []
        self.probabilities = None
        self.action = None
        self.value = math.nan
        self.value_scale = 1.0   # the largest |value| seen this run: the bar's full width
        self.setMinimumSize(150, 120)

    def show_step(self, names, probabilities, action, value) -> None:
        self.names, self.probabilities, self.action = list(names), np.asarray(probabilities), action
        self.value = float(value)
        if math.isfinite(self.value):
            self.value_scale = max(self.value_scale, abs(self.value))
        self.update()

    def clear(self) -> None:
        self.names, self.probabilities, self.action, self.value, self.value_scale = [], None, None, math.nan, 1.0
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        font = QFont(self.font())
        painter.setFont(font)
        line = painter.fontMetrics().height() + 6
        y = 4
        painter.setPen(QColor("#222"))
        painter.drawText(QRectF(4, y, self.width() - 8, line), Qt.AlignLeft, "Action probabilities")
        y += line
        label_w = max([painter.fontMetrics().horizontalAdvance(n) for n in self.names] + [40]) + 8
        bar_w = max(20.0, self.width() - label_w - 56)
        if self.probabilities is not None:
            for index, (name, p) in enumerate(zip(self.names, self.probabilities)):
                chosen = index == self.action
                painter.setPen(QColor("#222"))
                painter.drawText(QRectF(4, y, label_w, line), Qt.AlignLeft | Qt.AlignVCenter, name)
                painter.setPen(Qt.NoPen)
                painter.setBrush(QColor("#e6e9ec"))
                painter.drawRect(QRectF(label_w, y + 3, bar_w, line - 6))
                painter.setBrush(QColor("#2c6fbb" if chosen else "#8fb3dc"))
                painter.drawRect(QRectF(label_w, y + 3, bar_w * float(np.clip(p, 0, 1)), line - 6))
                painter.setPen(QColor("#222"))
                painter.drawText(QRectF(label_w + bar_w + 4, y, 52, line), Qt.AlignLeft | Qt.AlignVCenter,
                                 f"{p:.2f}")
                y += line
        if self.probabilities is None:
            painter.end()
            return
        y += 6
        text = "Value estimate V(s): " + (f"{self.value:.1f}" if math.isfinite(self.value) else "— (no value model)")
        painter.drawText(QRectF(4, y, self.width() - 8, line), Qt.AlignLeft, text)
        y += line
        if math.isfinite(self.value):
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor("#e6e9ec"))
            full = self.width() - 8
            painter.drawRect(QRectF(4, y, full, line - 8))
            painter.setBrush(QColor("#d35400"))
            painter.drawRect(QRectF(4, y, full * min(1.0, abs(self.value) / self.value_scale), line - 8))
        painter.end()
