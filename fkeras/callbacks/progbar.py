"""Keras's progress bar: `Progbar` (also `fkeras.utils.Progbar`) and `ProgbarLogger`, the callback fit,
evaluate and predict add when `verbose != 0`.

Batch logs hold device arrays (running epoch averages); the bar converts them to floats only when
it redraws (at most every `interval` seconds), so it never forces a host sync per step.
"""

from __future__ import annotations

import math
import re
import sys
import time

import numpy as np

from fkeras.callbacks.callback import Callback, print_msg

def _strip_ansi(s):
    return re.sub(r"\x1b\[[0-9;]*m", "", s)


def _to_float(v):
    try:
        return float(np.asarray(v))
    except (TypeError, ValueError):
        return v


class Progbar:
    """Keras's progress bar: `N/M ━━━━━━━━━━━━━━━━━━━━ 3s 20ms/step - acc: 0.9 - loss: 0.3`.

    `update(current, values)` with `values` a list of (name, value); values are displayed as given
    (they are running averages already) and converted to floats only when the bar is redrawn.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step"):
        self.target, self.width, self.verbose, self.interval, self.unit_name = target, width, verbose, interval, unit_name
        self._dynamic = (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules
        self._values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first = None
        self._prev_width = 0
        self._seen = 0

    def _step_time(self, current, now):
        if current <= 0:
            return 0.0
        if self._time_after_first is not None and current > 1:
            return (now - self._time_after_first) / (current - 1)
        return (now - self._start) / current

    @staticmethod
    def _format_time(t, unit):
        if t >= 1 or t == 0:
            return f" {t:.0f}s/{unit}"
        if t >= 1e-3:
            return f" {t * 1e3:.0f}ms/{unit}"
        return f" {t * 1e6:.0f}us/{unit}"

    def _info_values(self):
        info = ""
        for k, v in self._values.items():
            v = _to_float(v)
            if isinstance(v, float):
                info += f" - {k}: {v:.4f}" if abs(v) > 1e-3 else f" - {k}: {v:.4e}"
            else:
                info += f" - {k}: {v}"
        return info

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or []:
            self._values[k] = v
        now = time.time()
        if current == 1 and self._time_after_first is None:
            self._time_after_first = now
        self._seen = current
        if self.verbose == 1:
            if not finalize and (not self._dynamic or now - self._last_update < self.interval):
                return
            per = self._step_time(current, now)
            if self.target:
                nd = int(math.log10(self.target)) + 1
                count = f"%{nd}d/%d" % (current, self.target)
                done = int(self.width * min(current / self.target, 1.0))
                bar = f"\x1b[1m{count}\x1b[0m "
                plain = count + " "
                if done > 0:
                    bar += f"\x1b[32m{'━' * done}\x1b[0m"
                bar += f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
                plain += "━" * self.width
            else:
                bar = plain = "%7d/Unknown" % current
            if self.target and not finalize:
                eta = per * (self.target - current)
                t = ("%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60) if eta > 3600 else
                     "%d:%02d" % (eta // 60, eta % 60) if eta > 60 else "%ds" % eta)
            else:
                t = f"{now - self._start:.0f}s"
            info = f" \x1b[1m{t}\x1b[0m" + self._format_time(per, self.unit_name) + self._info_values()
            width = len(plain) + len(info) - 8
            msg = ("\b" * self._prev_width + "\r") if self._dynamic else ""
            if not self._dynamic:
                bar, info = plain, _strip_ansi(info)
            msg += bar + info
            if self._prev_width > width:
                msg += " " * (self._prev_width - width)
            if finalize:
                msg += "\n"
            print_msg(msg, line_break=False)
            self._prev_width = width
            self._last_update = now
        elif self.verbose == 2 and finalize and self.target:
            nd = int(math.log10(self.target)) + 1
            per = self._step_time(current, now)
            msg = f"%{nd}d/%d - {now - self._start:.0f}s -" % (current, self.target)
            msg += self._format_time(per, self.unit_name) + self._info_values()
            print_msg(msg)
            self._last_update = now


class ProgbarLogger(Callback):
    """Prints `Epoch i/N` and a live progress bar (verbose=1) or one line per epoch (verbose=2)."""

    _reads_logs_only = True  # never reads the model's weights

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        self.verbose = verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step")

    def _update(self, batch, logs=None):
        self._maybe_init()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        self._maybe_init()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._maybe_init()

    def on_predict_begin(self, logs=None):
        self._reset()
        self._maybe_init()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._maybe_init()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize({})

    def on_train_end(self, logs=None):
        self._called_in_fit = False
