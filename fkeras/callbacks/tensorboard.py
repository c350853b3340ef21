"""`TensorBoard`: Keras's TensorBoard logging callback, written with tensorboard's own event-file writer.

Logs go where Keras puts them: `<log_dir>/train` and `<log_dir>/validation`, with Keras's tags:
`epoch_<metric>` (step = epoch; `epoch_learning_rate` too), `batch_<metric>` (step = global batch,
every `update_freq` batches), `evaluation_<metric>_vs_iterations` (step = optimizer iterations),
`<weight path>/histogram` every `histogram_freq` epochs (and `/image` with `write_images`), the model's
JSON under the `keras` tag (`write_graph`; TensorBoard's "graph_keras_model" plugin shows it: a JAX
program has no TF graph to write), and a JAX profiler trace (`profile_batch`) under `train/plugins/profile`.
Values are the summary protos of tensorboard's plugins (scalars and histograms as tensors, like
`tf.summary`), so TensorBoard and its `EventAccumulator` read them as they read Keras's.

One deliberate difference: with an integer `update_freq`, Keras's `tf.summary.record_if` also gates the
epoch-level and evaluation scalars on the current batch step, so they vanish whenever that step is not a
multiple of `update_freq`; fkeras writes them always.
"""

from __future__ import annotations

import io
import logging
import os
import time

import numpy as np

from fkeras.callbacks.callback import Callback


def _tb():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise ImportError('The TensorBoard callback needs tensorboard, which is not installed: '
                          'pip install "fkeras[tensorboard]"') from e
    return event_pb2, summary_pb2, EventFileWriter


class _Writer:
    """One event file in `logdir` (created on first use, as `tf.summary.create_file_writer` does)."""

    def __init__(self, logdir):
        self.logdir = logdir
        self._file = None

    def _emit(self, summary, step):
        event_pb2, _, EventFileWriter = _tb()
        if self._file is None:
            os.makedirs(self.logdir, exist_ok=True)
            self._file = EventFileWriter(self.logdir)
        self._file.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalar(self, tag, value, step):
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        self._emit(scalar_pb(tag, np.float32(value)), step)

    def histogram(self, tag, values, step):
        from tensorboard.plugins.histogram.summary_v2 import histogram_pb

        self._emit(histogram_pb(tag, np.asarray(values, dtype=np.float64)), step)

    def image(self, tag, images, step):
        """`images`: float `(k, h, w, c)`, c in 1/3/4; scaled to 0..255 per batch and PNG-encoded."""
        from PIL import Image
        from tensorboard.plugins.image import metadata
        from tensorboard.util import tensor_util

        _, summary_pb2, _ = _tb()
        x = np.asarray(images, dtype=np.float64)
        lo, hi = x.min(), x.max()
        x = np.zeros_like(x) if hi == lo else (x - lo) / (hi - lo) * 255.0
        pngs = []
        for img in x.astype(np.uint8)[:3]:
            buf = io.BytesIO()
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(buf, format="PNG")
            pngs.append(buf.getvalue())
        content = [str(x.shape[2]).encode(), str(x.shape[1]).encode()] + pngs
        meta = metadata.create_summary_metadata(display_name=None, description=None, converted_to_tensor=True)
        summary = summary_pb2.Summary()
        summary.value.add(tag=tag, metadata=meta, tensor=tensor_util.make_tensor_proto(content))
        self._emit(summary, step)

    def text_blob(self, tag, text, plugin_name, step):
        """A string tensor under `plugin_name` (how Keras writes the model JSON for "graph_keras_model")."""
        from tensorboard.util import tensor_util

        _, summary_pb2, _ = _tb()
        meta = summary_pb2.SummaryMetadata()
        meta.plugin_data.plugin_name = plugin_name
        meta.plugin_data.content = b"1"
        summary = summary_pb2.Summary()
        summary.value.add(tag=tag, metadata=meta, tensor=tensor_util.make_tensor_proto(text))
        self._emit(summary, step)

    def flush(self):
        if self._file is not None:
            self._file.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoard(Callback):
    """Log metrics, weight histograms, the model and a profile for TensorBoard (`tensorboard --logdir`).

    Args:
        log_dir: folder of the logs (`train/` and `validation/` below it).
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: write the model's JSON (TensorBoard's Keras model graph).
        write_images: also write weights as images with the histograms.
        write_steps_per_second: log training steps per second (per batch and per epoch).
        update_freq: "epoch", "batch" or an int N: batch-level scalars every N batches.
        profile_batch: batch number, or (start, stop) pair (or "start,stop"), to trace with the JAX
            profiler; 0 disables.
        embeddings_freq: every how many epochs to save the weights for the embedding projector.
        embeddings_metadata: metadata file for the projector, or `{layer name: file}`.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        _tb()  # a missing tensorboard is reported here, not after the first epoch
        if not (update_freq in ("epoch", "batch") or (isinstance(update_freq, int) and update_freq > 0)):
            raise ValueError(f'update_freq must be "epoch", "batch" or a positive integer; got {update_freq!r}.')
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._init_profile_batch(profile_batch)
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0
        self._batch_start_time = 0
        self._writers = {}
        self._recording = None  # the writer batch-level scalars go to while a fit/evaluate runs

    def set_model(self, model):
        self._model = model
        self._log_write_dir = self.log_dir
        self._train_dir = os.path.join(self._log_write_dir, "train")
        self._val_dir = os.path.join(self._log_write_dir, "validation")
        self._writers = {}
        if self.write_graph:
            self._write_keras_model_summary()
        if self.embeddings_freq:
            self._configure_embeddings()

    @property
    def _train_writer(self):
        if "train" not in self._writers:
            self._writers["train"] = _Writer(self._train_dir)
        return self._writers["train"]

    @property
    def _val_writer(self):
        if "val" not in self._writers:
            self._writers["val"] = _Writer(self._val_dir)
        return self._writers["val"]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()

    def _write_keras_model_summary(self):
        if type(self.model).__name__ not in ("Functional", "Sequential"):
            return
        try:
            json_string = self.model.to_json()
        except Exception as e:  # noqa: BLE001  (Keras warns and goes on for any serialization failure)
            import warnings

            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {e}", stacklevel=2)
            return
        self._train_writer.text_blob("keras", json_string, "graph_keras_model", step=0)

    def _configure_embeddings(self):
        from google.protobuf import text_format
        from tensorboard.plugins import projector

        config = projector.ProjectorConfig()
        metadata = self.embeddings_metadata
        if metadata is not None and not isinstance(metadata, str):
            metadata = dict(metadata)
        for layer in self.model.layers:
            if type(layer).__name__ == "Embedding":
                embedding = config.embeddings.add()
                embedding.tensor_name = "layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
                if isinstance(metadata, str):
                    embedding.metadata_path = metadata
                elif metadata and layer.name in metadata:
                    embedding.metadata_path = metadata.pop(layer.name)
        if metadata and not isinstance(metadata, str):
            raise ValueError("Unrecognized `Embedding` layer names passed to `keras.callbacks.TensorBoard` "
                             f"`embeddings_metadata` argument: {metadata.keys()}")
        os.makedirs(self._log_write_dir, exist_ok=True)
        with open(os.path.join(self._log_write_dir, "projector_config.pbtxt"), "w") as f:
            f.write(text_format.MessageToString(config))

    # -- profiling ------------------------------------------------------------------------------
    def _init_profile_batch(self, profile_batch):
        message = ("profile_batch must be a non-negative integer or 2-tuple of positive integers. A pair of positive "
                   f"integers signifies a range of batches to profile. Found: {profile_batch}")
        if isinstance(profile_batch, str):
            try:
                profile_batch = [int(p) for p in profile_batch.split(",")]
            except ValueError as e:
                raise ValueError(message) from e
        if isinstance(profile_batch, int) and not isinstance(profile_batch, bool):
            self._start_batch = self._stop_batch = profile_batch
        elif isinstance(profile_batch, (tuple, list)) and len(profile_batch) == 2:
            self._start_batch, self._stop_batch = profile_batch
        else:
            raise ValueError(message)
        if self._start_batch < 0 or self._stop_batch < self._start_batch:
            raise ValueError(message)
        self._profiler_started = False
        self._is_tracing = False
        self._should_trace = not (self._start_batch == 0 and self._stop_batch == 0)

    def _start_trace(self):
        if self._profiler_started:
            return
        try:
            import jax

            jax.profiler.start_trace(self._train_dir)
            self._profiler_started = True
            self._is_tracing = True
        except Exception as e:  # noqa: BLE001  (as Keras: a profiler failure never stops training)
            logging.error("Failed to start profiler: %s", e)

    def _stop_trace(self):
        if not self._profiler_started:
            self._is_tracing = False
            return
        try:
            import jax

            jax.profiler.stop_trace()
        except Exception as e:  # noqa: BLE001
            logging.error("Failed to stop profiler: %s", e)
        finally:
            self._profiler_started = False
            self._is_tracing = False

    # -- hooks ----------------------------------------------------------------------------------
    def _records(self, step):
        return self.update_freq != "epoch" and step % self.update_freq == 0

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._recording = self._train_writer

    def on_train_end(self, logs=None):
        self._recording = None
        if self._is_tracing:
            self._stop_trace()
        self._close_writers()

    def on_test_begin(self, logs=None):
        self._previous_recording = self._recording
        self._recording = self._val_writer

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations") and logs:
            step = int(np.asarray(optimizer.iterations))
            for name, value in logs.items():
                self._val_writer.scalar(f"evaluation_{name}_vs_iterations", value, step)
        self._recording = getattr(self, "_previous_recording", None)
        if self._recording is None:  # a standalone evaluate(): nothing else will close it
            self._val_writer.flush()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()
        if self._should_trace and self._global_train_batch == self._start_batch:
            self._start_trace()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self._records(step) and self._recording is not None:
            if self.write_steps_per_second:
                self._recording.scalar("batch_steps_per_second", 1.0 / max(time.time() - self._batch_start_time,
                                                                           1e-12), step)
            for name, value in (logs or {}).items():
                self._recording.scalar(f"batch_{name}", float(np.asarray(value)), step)
        if self._should_trace and self._is_tracing and step >= self._stop_batch:
            self._stop_trace()

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = float(np.asarray(self.model.optimizer.iterations))
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self.model.save_weights(os.path.join(self._log_write_dir, "train",
                                                 f"keras_embedding.ckpt-{epoch}.weights.h5"))

    def _collect_learning_rate(self, logs):
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        return logs

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train_logs = self._collect_learning_rate(train_logs)
        if self.write_steps_per_second:
            iterations = float(np.asarray(self.model.optimizer.iterations))
            elapsed = max(time.time() - self._epoch_start_time, 1e-12)
            train_logs["steps_per_second"] = (iterations - self._previous_epoch_iterations) / elapsed
        for name, value in train_logs.items():
            self._train_writer.scalar(f"epoch_{name}", value, epoch)
        for name, value in val_logs.items():
            self._val_writer.scalar(f"epoch_{name}", value, epoch)
        self._train_writer.flush()
        if val_logs:
            self._val_writer.flush()

    def _log_weights(self, epoch):
        # Keras builds a Sequential's layers inside the model's name scope, so their paths start with it.
        prefix = f"{self.model.name}/" if type(self.model).__name__ == "Sequential" else ""
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                name = name if name.startswith(prefix) else prefix + name
                value = np.asarray(weight)
                self._train_writer.histogram(f"{name}/histogram", value, epoch)
                if self.write_images:
                    self._log_weight_as_image(value, f"{name}/image", epoch)
        self._train_writer.flush()

    def _log_weight_as_image(self, w, name, epoch):
        """Keras's rule: a bias is a 1-row image, a kernel a 2-D image (wide side first), conv kernels one
        image per output channel."""
        w = np.squeeze(w)
        if w.ndim == 1:
            w = w.reshape(1, w.shape[0], 1, 1)
        elif w.ndim == 2:
            if w.shape[0] > w.shape[1]:
                w = w.T
            w = w.reshape(1, w.shape[0], w.shape[1], 1)
        elif w.ndim == 3:
            w = np.transpose(w, (2, 0, 1))[..., None]
        if w.ndim == 4 and w.shape[-1] in (1, 3, 4):
            self._train_writer.image(name, w, epoch)
