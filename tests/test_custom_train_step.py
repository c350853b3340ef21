"""The keras.io guide "Customizing what happens in fit() with JAX", written for Keras 3, runs on
facade models with `import fkeras as keras`: fit uses the override, its logs appear, it trains."""

import jax
import numpy as np

import fkeras as keras


class CustomModel(keras.Model):
    """The guide's first example: compute_loss_and_updates + train_step over Keras's state tuple."""

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y, training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        loss = self.compute_loss(x, y, y_pred)
        return loss, (y_pred, non_trainable_variables)

    def train_step(self, state, data):
        trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
        x, y = data
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y, training=True)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        new_metrics_vars, logs = [], {}
        for metric in self.metrics:
            this = metrics_variables[len(new_metrics_vars): len(new_metrics_vars) + len(metric.variables)]
            if metric.name == "loss":
                this = metric.stateless_update_state(this, loss)
            else:
                this = metric.stateless_update_state(this, y, y_pred)
            logs[metric.name] = metric.stateless_result(this)
            new_metrics_vars += this
        return logs, (trainable_variables, non_trainable_variables, optimizer_variables, new_metrics_vars)


class CustomLossModel(keras.Model):
    """The guide's lower-level example: no compiled loss, the model's own loss and metric trackers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y, training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        return self.loss_fn(y, y_pred), (y_pred, non_trainable_variables)

    def train_step(self, state, data):
        trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
        x, y = data
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y, training=True)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        loss_tracker_vars = metrics_variables[: len(self.loss_tracker.variables)]
        mae_metric_vars = metrics_variables[len(self.loss_tracker.variables):]
        loss_tracker_vars = self.loss_tracker.stateless_update_state(loss_tracker_vars, loss)
        mae_metric_vars = self.mae_metric.stateless_update_state(mae_metric_vars, y, y_pred)
        logs = {"loss": self.loss_tracker.stateless_result(loss_tracker_vars),
                "mae": self.mae_metric.stateless_result(mae_metric_vars)}
        return logs, (trainable_variables, non_trainable_variables, optimizer_variables,
                      loss_tracker_vars + mae_metric_vars)

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def regression_data(n=256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) + 0.5).astype("float32")
    return x, y


def test_guide_custom_train_step_with_compiled_loss_trains():
    x, y = regression_data()
    inputs = keras.Input(shape=(8,))
    model = CustomModel(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    # The trained weights live in the model: predict agrees with the logged loss.
    mse = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert mse < 0.1 * history.history["loss"][0]


def test_guide_custom_loss_without_compiled_loss_trains():
    x, y = regression_data()
    inputs = keras.Input(shape=(8,))
    model = CustomLossModel(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert history.history["mae"][-1] < history.history["mae"][0]
