"""Audio spectrogram layers: MelSpectrogram (waveforms (batch, samples) -> (batch, num_mel_bins, frames))
and STFTSpectrogram (signals (batch, time, channels) -> (batch, frames, channels * bins))."""

from __future__ import annotations

import math
import warnings

import numpy as np

from fkeras import backend, ops
from fkeras.nn import initializers
from fkeras.nn.base import Layer, Variables, expect_rank

_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(f):
    return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + f / _MEL_BREAK_FREQUENCY_HERTZ)


def linear_to_mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate, lower_edge_hertz,
                                upper_edge_hertz):
    """(num_spectrogram_bins, num_mel_bins) triangular mel filters (TensorFlow's construction, float32)."""
    f32 = np.float32
    nyquist = f32(sampling_rate) / f32(2.0)
    linear = np.linspace(f32(0.0), nyquist, num_spectrogram_bins, dtype=f32)[1:]
    bins_mel = _hertz_to_mel(linear).astype(f32)[:, None]
    edges = np.linspace(_hertz_to_mel(f32(lower_edge_hertz)), _hertz_to_mel(f32(upper_edge_hertz)), num_mel_bins + 2,
                        dtype=f32)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(f32(0.0), np.minimum(lower_slopes, upper_slopes)).astype(f32)
    return np.pad(weights, [[1, 0], [0, 0]])


class MelSpectrogram(Layer):
    """Waveforms (batch, samples) or (samples,) -> mel power spectrograms (batch, num_mel_bins, frames):
    STFT (centred, `window`), magnitude ** `mag_exp`, mel filters, then (power_to_db) decibels relative
    to `ref_power`, floored at `top_db` below the maximum."""

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None, window="hann", sampling_rate=16000,
                 num_mel_bins=128, min_freq=20.0, max_freq=None, power_to_db=True, top_db=80.0, mag_exp=2.0,
                 min_power=1e-10, ref_power=1.0, **kwargs):
        super().__init__(**kwargs)
        self.fft_length = fft_length
        self.sequence_stride = sequence_stride
        self.sequence_length = sequence_length or fft_length
        if self.fft_length < self.sequence_length:
            raise self.error(f"`fft_length` must be greater than or equal to `sequence_length`. Received: "
                             f"`sequence_length`={self.sequence_length}, `fft_length`={self.fft_length}.")
        if window not in (None, "hann", "hamming"):
            raise self.error(f"expected `window` 'hann', 'hamming' or None, got {window!r}.")
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = num_mel_bins
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        self.power_to_db = power_to_db
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power

    def check_input(self, x):
        expect_rank(self, x, (1, 2), "waveforms (batch, samples) or (samples,)")

    def call(self, variables, x, training=False, rng=None):
        dtype = self.compute_dtype if self.compute_dtype in ("float32", "float64") else "float32"
        x = ops.cast(x, dtype)
        real, imag = ops.stft(x, self.sequence_length, self.sequence_stride, self.fft_length, window=self.window,
                              center=True)
        spec = ops.power(ops.sqrt(ops.square(real) + ops.square(imag)), self.mag_exp)
        matrix = linear_to_mel_weight_matrix(self.num_mel_bins, spec.shape[-1], self.sampling_rate, self.min_freq,
                                             self.max_freq)
        out = ops.tensordot(spec, ops.convert_to_tensor(matrix, ops.dtype(spec)), axes=1)
        if self.power_to_db:
            out = 10.0 * ops.log10(ops.maximum(out, self.min_power))
            out = out - 10.0 * math.log10(max(abs(self.ref_power), self.min_power))
            out = ops.maximum(out, ops.max(out) - self.top_db)
        return ops.cast(ops.swapaxes(out, -1, -2), self.compute_dtype)

    def get_config(self):
        return super().get_config() | {
            "fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
            "sequence_length": self.sequence_length, "window": self.window, "sampling_rate": self.sampling_rate,
            "num_mel_bins": self.num_mel_bins, "min_freq": self.min_freq, "max_freq": self.max_freq,
            "power_to_db": self.power_to_db, "top_db": self.top_db, "mag_exp": self.mag_exp,
            "min_power": self.min_power, "ref_power": self.ref_power}


_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


class STFTSpectrogram(Layer):
    """Signals (batch, time, channels) (channels_last) -> spectrograms (batch, frames, channels * bins), or
    (batch, frames, bins, channels) with `expand_dims`; `mode` picks log/magnitude/psd/real/imag/angle/stft
    (real and imaginary bins concatenated). The STFT is a strided conv with the `real_kernel`/`imag_kernel`
    weights (frame_length, 1, fft_length // 2 + 1), Keras's `STFT` initializer."""

    weight_leaves = ("real_kernel", "imag_kernel")

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None, window="hann", periodic=False,
                 scaling="density", padding="valid", expand_dims=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if frame_step is not None and (frame_step > frame_length or frame_step < 1):
            raise self.error(f"`frame_step` should be a positive integer not greater than `frame_length`. Received "
                             f"frame_step={frame_step}, frame_length={frame_length}")
        if fft_length is not None and fft_length < frame_length:
            raise self.error(f"`fft_length` should be not less than `frame_length`. Received fft_length={fft_length}, "
                             f"frame_length={frame_length}")
        if fft_length is not None and (fft_length & -fft_length) != fft_length:
            warnings.warn(f"`fft_length` is recommended to be a power of two. Received fft_length={fft_length}",
                          stacklevel=2)
        if mode not in _MODES:
            raise self.error(f"Output mode is invalid, it must be one of {', '.join(_MODES)}. Received: mode={mode}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise self.error(f"Scaling is invalid, it must be `None`, 'density' or 'spectrum'. Received "
                             f"scaling={scaling}")
        if padding not in ("valid", "same"):
            raise self.error(f"Padding is invalid, it should be 'valid', 'same'. Received: padding={padding}")
        self.mode, self.frame_length, self.frame_step, self.fft_length = mode, frame_length, frame_step, fft_length
        self._frame_step = frame_step or frame_length // 2
        self._fft_length = fft_length or 2 ** int(math.ceil(math.log2(frame_length)))
        self.window, self.periodic, self.scaling, self.padding = window, periodic, scaling, padding
        self.expand_dims = expand_dims
        data_format = data_format or backend.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise self.error(f"expected data_format 'channels_last' or 'channels_first', got {data_format!r}.")
        self.data_format = data_format
        # validates the window now, as Keras does
        initializers.STFT("real", window, scaling, periodic)

    def check_input(self, x):
        expect_rank(self, x, 3, "signals (batch, time, channels)")

    def build(self, rng, spec):
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        params = {}
        for side in ("real", "imag"):
            if (side, self.mode) not in (("real", "imag"), ("imag", "real")):
                init = initializers.STFT(side, self.window, self.scaling, self.periodic)
                params[f"{side}_kernel"] = init(shape, self.variable_dtype)
        return Variables(params, {})

    def _conv(self, x, kernel):
        if self.data_format == "channels_last":
            _, t, c = x.shape
            x = ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, t, 1))
        else:
            _, c, t = x.shape
            x = ops.reshape(x, (-1, 1, t))
        out = ops.conv(x, ops.cast(kernel, ops.dtype(x)), strides=self._frame_step, padding=self.padding,
                       data_format=self.data_format)
        if self.data_format == "channels_last":
            out = ops.transpose(out, (0, 2, 1))
        return ops.reshape(out, (-1, c, out.shape[1], out.shape[2]))  # (batch, channels, freq, time)

    def _adjust(self, out):
        _, c, f, t = out.shape
        if self.data_format == "channels_last":
            if self.expand_dims:
                return ops.transpose(out, (0, 3, 2, 1))
            return ops.transpose(ops.reshape(out, (-1, c * f, t)), (0, 2, 1))
        if self.expand_dims:
            return ops.transpose(out, (0, 1, 3, 2))
        return ops.reshape(out, (-1, c * f, t))

    def call(self, variables, x, training=False, rng=None):
        if ops.dtype(x) not in ("float16", "float32", "float64"):
            raise self.error(f"Invalid input type. Expected `float16`, `float32` or `float64`. Received: input "
                             f"type={ops.dtype(x)}")
        p = variables.params
        real = self._conv(x, p["real_kernel"]) if self.mode != "imag" else None
        imag = self._conv(x, p["imag_kernel"]) if self.mode != "real" else None
        if self.mode == "real":
            return self._adjust(real)
        if self.mode == "imag":
            return self._adjust(imag)
        if self.mode == "angle":
            return self._adjust(ops.arctan2(imag, real))
        if self.mode == "stft":
            return self._adjust(ops.concatenate([real, imag], axis=2))
        power = ops.square(real) + ops.square(imag)
        if self.mode == "psd":
            return self._adjust(power + ops.pad(power[:, :, 1:-1, :], [[0, 0], [0, 0], [1, 1], [0, 0]]))
        linear = self._adjust(ops.sqrt(ops.maximum(power, backend.epsilon())))
        if self.mode == "magnitude":
            return linear
        return ops.log(ops.maximum(linear, backend.epsilon()))

    def get_config(self):
        return super().get_config() | {
            "mode": self.mode, "frame_length": self.frame_length, "frame_step": self.frame_step,
            "fft_length": self.fft_length, "window": self.window, "periodic": self.periodic, "scaling": self.scaling,
            "padding": self.padding, "data_format": self.data_format, "expand_dims": self.expand_dims}
