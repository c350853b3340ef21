"""Keras's progress bar, `Progbar` (`fkeras.utils.Progbar`): what `ProgbarLogger` draws during fit, evaluate and
predict, and what `get_file` draws while it downloads.

Logged values may be device arrays (running epoch averages); the bar converts them to floats only when
it redraws (at most every `interval` seconds), so it never forces a host sync per step.
"""

from __future__ import annotations

import math
import re
import sys
import time

import numpy as np

from fkeras.runtime.io_utils import print_msg


def _strip_ansi(s):
    return re.sub(r"\x1b\[[0-9;]*m", "", s)


def _to_float(v):
    try:
        return float(np.asarray(v))
    except (TypeError, ValueError):
        return v


class Progbar:
    """Keras's progress bar: `N/M ━━━━━━━━━━━━━━━━━━━━ 3s 20ms/step - acc: 0.9000 - loss: 0.3000`.

    `update(current, values)` with `values` a list of `(name, value_for_last_step)`: a stateless metric
    (all of them by default, or those not in `stateful_metrics`, or those in `stateless_metrics`) is shown
    as its average over the steps seen, weighted by the steps each value covers; a stateful one as given.
    `add(n, values)` advances by `n` steps. Stateful values (the running averages `fit` logs, as device
    arrays) are converted to floats only when the bar is redrawn, so no step forces a host sync.
    Printing goes through `print_msg` (stdout, or `absl.logging` after `disable_interactive_logging()`).
    Not on a terminal (nor in a notebook), verbose=1 prints only the final line of each bar, without colors.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, stateless_metrics=None,
                 unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                             "`stateful_metrics` is used to make metrics stateless by default (with an exclusion "
                             "list), while `stateless_metrics` is used to make metrics stateful by default (with an "
                             "exclusion list).")
        self.target, self.width, self.verbose, self.interval, self.unit_name = target, width, verbose, interval, unit_name
        if stateful_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = set(stateful_metrics), None
        elif stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics, self.stateless_metrics = set(), None
        self._dynamic_display = (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules
        self._seen_so_far = 0
        self._values = {}  # name -> [sum of value * steps (or the value), steps]
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _estimate_step_duration(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    @staticmethod
    def _format_time(t, unit):
        if t >= 1 or t == 0:
            return f" {t:.0f}s/{unit}"
        if t >= 1e-3:
            return f" {t * 1e3:.0f}ms/{unit}"
        return f" {t * 1e6:.0f}us/{unit}"

    def _info_values(self, signed=True):
        info = ""
        for k in self._values_order:
            total, count = self._values[k]
            total = _to_float(total)
            if not isinstance(total, float):
                try:
                    total = float(np.mean(total))
                except (TypeError, ValueError):
                    info += f" - {k}: {total}"
                    continue
            avg = total / max(1, count)
            info += f" - {k}: {avg:.4f}" if (abs(avg) if signed else avg) > 1e-3 else f" - {k}: {avg:.4e}"
        return info

    def update(self, current, values=None, finalize=None):
        """Show step `current` with `values` (a list of `(name, value_for_last_step)`); `finalize`
        (default: `current >= target`) ends the bar's line."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics
            if stateless and not finalize:
                base = max(current - self._seen_so_far, 1)
                if k in self._values:
                    self._values[k][0] += v * base
                    self._values[k][1] += base
                else:
                    self._values[k] = [v * base, base]
            else:  # stateful, or a finalizing value (as Keras: it replaces the average)
                self._values[k] = [v, 1]
        self._seen_so_far = current
        now = time.time()
        per = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if not finalize and (not self._dynamic_display or now - self._last_update < self.interval):
                return
            if self.target is not None and self.target > 0:
                nd = int(math.log10(self.target)) + 1
                count = f"%{nd}d/%d" % (current, self.target)
                done = int(self.width * current / self.target)
                bar = f"\x1b[1m{count}\x1b[0m "
                plain = count + " "
                if done > 0:
                    bar += f"\x1b[32m{'━' * done}\x1b[0m"
                bar += f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
                plain += "━" * max(self.width, done)
            else:
                bar = plain = "%7d/Unknown" % current
            if self.target is not None and self.target > 0 and not finalize:
                eta = per * (self.target - current)
                t = ("%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60) if eta > 3600 else
                     "%d:%02d" % (eta // 60, eta % 60) if eta > 60 else "%ds" % eta)
            else:
                t = f"{now - self._start:.0f}s"
            info = f" \x1b[1m{t}\x1b[0m" + self._format_time(per, self.unit_name) + self._info_values()
            width = len(plain) + len(info) - 8
            msg = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else ""
            if not self._dynamic_display:
                bar, info = plain, _strip_ansi(info)
            msg += bar + info
            if self._prev_total_width > width:
                msg += " " * (self._prev_total_width - width)
            if finalize:
                msg += "\n"
            print_msg(msg, line_break=False)
            self._prev_total_width = width
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            nd = int(math.log10(self.target)) + 1
            msg = f"%{nd}d/%d - {now - self._start:.0f}s -" % (current, self.target)
            msg += self._format_time(per, self.unit_name) + self._info_values(signed=False) + "\n"
            print_msg(msg, line_break=False)
        self._last_update = now

    def add(self, n, values=None):
        """Advance the bar by `n` steps (Keras's `Progbar.add`)."""
        self.update(self._seen_so_far + n, values)


__all__ = ["Progbar"]
