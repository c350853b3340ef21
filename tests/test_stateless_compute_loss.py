"""Keras's JAX guides run with `import fkeras as keras`, against keras==3.15.1 (JAX backend):
"Customizing what happens in fit() with JAX" (`Model.stateless_compute_loss` in a custom train_step and
test_step) and "Writing a training loop from scratch in JAX" (`optimizer.build(model.trainable_variables)`,
`optimizer.variables`, `stateless_apply`), plus `Optimizer.variables` in Keras's order for every kind of
slot layout. Same initial weights; tolerances (float32) atol 1e-5 / rtol 1e-5 (a few Adam steps)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras

keras_ref = pytest.importorskip("keras")  # KERAS_BACKEND=jax is set by conftest

TOL = dict(atol=1e-5, rtol=1e-5)
RNG = np.random.default_rng(5)
X = RNG.random((40, 8)).astype("float32")
Y = RNG.random((40, 1)).astype("float32")


def guide_model_class(keras):
    """The guide's first `CustomModel`, as written there (only `keras` is a parameter)."""

    class CustomModel(keras.Model):
        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, metrics_variables, x, y,
                                     sample_weight, training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = self.stateless_compute_loss(
                trainable_variables, non_trainable_variables, metrics_variables, x=x, y=y, y_pred=y_pred,
                sample_weight=sample_weight, training=training)
            return loss, (y_pred, non_trainable_variables, metrics_variables)

        def train_step(self, state, data):
            trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables, metrics_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, metrics_variables, x, y, sample_weight,
                training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            new_metrics_vars = []
            logs = {}
            for metric in self.metrics:
                this_metric_vars = metrics_variables[
                    len(new_metrics_vars): len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, loss,
                                                                     sample_weight=sample_weight)
                else:
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, y, y_pred,
                                                                     sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this_metric_vars)
                new_metrics_vars += this_metric_vars
            state = (trainable_variables, non_trainable_variables, optimizer_variables, new_metrics_vars)
            return logs, state

        def test_step(self, state, data):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            trainable_variables, non_trainable_variables, metrics_variables = state
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=False)
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = self.stateless_compute_loss(
                trainable_variables, non_trainable_variables, metrics_variables, x=x, y=y, y_pred=y_pred,
                sample_weight=sample_weight, training=False)
            new_metrics_vars = []
            logs = {}
            for metric in self.metrics:
                this_metric_vars = metrics_variables[
                    len(new_metrics_vars): len(new_metrics_vars) + len(metric.variables)]
                if metric.name == "loss":
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, loss,
                                                                     sample_weight=sample_weight)
                else:
                    this_metric_vars = metric.stateless_update_state(this_metric_vars, y, y_pred,
                                                                     sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this_metric_vars)
                new_metrics_vars += this_metric_vars
            return logs, (trainable_variables, non_trainable_variables, new_metrics_vars)

    return CustomModel


def _guide_fit(keras, w0=None):
    inputs = keras.Input(shape=(8,))
    outputs = keras.layers.Dense(1)(inputs)
    model = guide_model_class(keras)(inputs, outputs)
    if w0 is not None:
        model.set_weights(w0)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    hist = model.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    return model, hist.history, model.evaluate(X, Y, batch_size=8, return_dict=True, verbose=0)


def test_custom_train_step_guide_equals_keras():
    start = keras_ref.layers.Dense(1)
    start.build((None, 8))
    w0 = [np.asarray(v.value) for v in start.weights]
    ref, ref_hist, ref_eval = _guide_fit(keras_ref, w0)
    ours, hist, ev = _guide_fit(fkeras, w0)
    chex.assert_trees_all_close(ours.get_weights(), ref.get_weights(), **TOL)
    assert set(hist) == set(ref_hist) == {"loss", "mae"}
    chex.assert_trees_all_close(hist, ref_hist, **TOL)
    assert set(ev) == set(ref_eval)
    chex.assert_trees_all_close(ev, ref_eval, **TOL)


def test_stateless_compute_loss_binds_metrics_and_leaves_them():
    """A `compute_loss` override updating a tracker (Keras's docstring example): the new tracker values come
    back in `metrics_variables`; the metric object itself is unchanged; regularization terms count."""

    class Tracked(fkeras.Model):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.loss_tracker = fkeras.metrics.Mean(name="loss")

        def compute_loss(self, x, y, y_pred, sample_weight, training=True):
            loss = fkeras.ops.mean((y_pred - y) ** 2)
            self.loss_tracker.update_state(loss)
            return loss

        @property
        def metrics(self):
            return [self.loss_tracker]

    inputs = fkeras.Input(shape=(8,))
    model = Tracked(inputs, fkeras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd")
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    y_pred, _ = model.stateless_call(tv, ntv, X[:4])
    mv = jax.tree.leaves({"total": jnp.asarray(3.0), "count": jnp.asarray(1.0)})  # the Mean's state, flat
    loss, (tv2, ntv2, mv2) = model.stateless_compute_loss(tv, ntv, mv, x=X[:4], y=Y[:4], y_pred=y_pred)
    want = float(np.mean((np.asarray(y_pred) - Y[:4]) ** 2))
    np.testing.assert_allclose(float(loss), want, rtol=1e-6)
    np.testing.assert_allclose([float(a) for a in mv2], jax.tree.leaves({"total": 3.0 + want, "count": 2.0}),
                               rtol=1e-6)
    assert float(model.loss_tracker.result()) == 0.0  # untouched
    assert tv2 == tv and ntv2 == ntv
    with pytest.raises(ValueError, match="metrics variables"):
        model.stateless_compute_loss(tv, ntv, [], x=X[:4], y=Y[:4], y_pred=y_pred)


def _jax_loop(keras, w0, steps=4):
    """The "training loop from scratch in JAX" guide's loop (Functional model, Adam, jitted train_step). fkeras
    runs it as written (Variables straight into `jax.jit`)."""
    inputs = keras.Input(shape=(8,), name="digits")
    x1 = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(3, name="predictions")(x1)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.set_weights(w0)
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)

    def compute_loss_and_updates(trainable_variables, non_trainable_variables, x, y):
        y_pred, non_trainable_variables = model.stateless_call(trainable_variables, non_trainable_variables, x)
        return loss_fn(y, y_pred), non_trainable_variables

    grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

    @jax.jit
    def train_step(state, data):
        trainable_variables, non_trainable_variables, optimizer_variables = state
        x, y = data
        (loss, non_trainable_variables), grads = grad_fn(trainable_variables, non_trainable_variables, x, y)
        trainable_variables, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        return loss, (trainable_variables, non_trainable_variables, optimizer_variables)

    optimizer.build(model.trainable_variables)
    built = [np.asarray(v) for v in optimizer.variables]
    state = model.trainable_variables, model.non_trainable_variables, optimizer.variables
    if keras is keras_ref:  # Keras 3.15's own Variables are no jit inputs under this JAX: values, as its issue says
        state = tuple([v.value for v in part] for part in state)
    labels = np.eye(3, dtype="float32")[np.arange(40) % 3]
    losses = []
    for step in range(steps):
        loss, state = train_step(state, (X[step * 8:(step + 1) * 8], labels[step * 8:(step + 1) * 8]))
        losses.append(float(loss))
    trainable_variables, non_trainable_variables, optimizer_variables = state
    for variable, value in zip(model.trainable_variables, trainable_variables):
        variable.assign(value)
    return model, losses, built, [np.asarray(v) for v in optimizer_variables]


def test_training_loop_from_scratch_guide_equals_keras():
    w0 = [RNG.normal(size=s).astype("float32") * 0.3 for s in [(8, 16), (16,), (16, 3), (3,)]]
    ours, theirs = _jax_loop(fkeras, w0), _jax_loop(keras_ref, w0)
    chex.assert_trees_all_close(ours[0].get_weights(), theirs[0].get_weights(), **TOL)
    chex.assert_trees_all_close(ours[1], theirs[1], **TOL)
    assert [a.shape for a in ours[2]] == [a.shape for a in theirs[2]]  # built: iterations, lr, m0, v0, m1, ...
    chex.assert_trees_all_close(ours[2], theirs[2], rtol=0, atol=0)
    chex.assert_trees_all_close(ours[3], theirs[3], **TOL)


ORDER_CASES = [
    ("Adam", {"amsgrad": True}),
    ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Nadam", {}),
    ("Adafactor", {}),
    ("Ftrl", {"l1_regularization_strength": 0.01}),
    ("SGD", {"momentum": 0.9, "use_ema": True, "gradient_accumulation_steps": 2}),
    ("Adam", {"learning_rate": "schedule"}),
    ("Lamb", {}),
    ("Muon", {}),  # the 2-D variable takes Muon's step (momentum only), the others AdamW's (momentum, velocity)
]


@pytest.mark.parametrize("name,kw", ORDER_CASES, ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k in ORDER_CASES])
def test_variables_in_keras_order(name, kw):
    """`optimizer.variables` after `build` and after steps: Keras's list, element by element (iterations, the
    learning rate unless a schedule, each slot group interleaved per variable, shared scalars last)."""
    shapes = [(3, 4), (4,), (2, 2, 3)]
    w0 = [RNG.normal(size=s).astype("float32") for s in shapes]
    grads = [[RNG.normal(size=s).astype("float32") for s in shapes] for _ in range(3)]
    out = []
    for lib in (fkeras, keras_ref):
        args = dict(kw)
        if args.get("learning_rate") == "schedule":
            args["learning_rate"] = lib.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
        opt = getattr(lib.optimizers, name)(**args)
        vs = [lib.Variable(a.copy()) for a in w0]
        opt.build(vs)
        built = [np.asarray(v) for v in opt.variables]
        tv, ov = [np.asarray(v.value) for v in vs], built
        for g in grads:
            tv, ov = opt.stateless_apply(ov, [jnp.asarray(a) for a in g], tv)
        out.append((built, [np.asarray(a) for a in ov], [np.asarray(a) for a in tv]))
    assert [a.shape for a in out[0][0]] == [a.shape for a in out[1][0]]
    chex.assert_trees_all_close(out[0][0], out[1][0], rtol=0, atol=0)
    chex.assert_trees_all_close(out[0][1:], out[1][1:], **TOL)


def test_custom_train_step_keeps_optimizer_state_across_fit_calls():
    """Two `fit` calls continue the optimizer (Adam's moments, iterations) as Keras does; the list-structured
    state of a custom train_step used to be rebuilt at the second call."""
    start = keras_ref.layers.Dense(1)
    start.build((None, 8))
    w0 = [np.asarray(v.value) for v in start.weights]
    out = []
    for lib in (fkeras, keras_ref):
        inputs = lib.Input(shape=(8,))
        model = guide_model_class(lib)(inputs, lib.layers.Dense(1)(inputs))
        model.set_weights(w0)
        model.compile(optimizer=lib.optimizers.Adam(0.05), loss="mse")
        for _ in range(2):
            model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        out.append((model.get_weights(), [np.asarray(v) for v in model.optimizer.variables]))
    assert int(out[0][1][0]) == 10
    chex.assert_trees_all_close(out[0], out[1], **TOL)


def test_custom_train_step_optimizer_state_saved_in_keras_layout(tmp_path):
    """A custom train_step keeps its optimizer state as lists in Keras's order; `.keras` files still hold
    every slot (they held only iterations and learning rate), Keras resumes them and so does fkeras."""
    inputs = fkeras.Input(shape=(8,))
    model = guide_model_class(fkeras)(inputs, fkeras.layers.Dense(1)(inputs))
    model.compile(optimizer=fkeras.optimizers.Adam(0.05), loss="mse")
    model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    want = [np.asarray(v) for v in model.optimizer.variables]
    assert len(want) == 2 + 4
    model.save(tmp_path / "m.keras")
    theirs = keras_ref.saving.load_model(tmp_path / "m.keras", custom_objects={"CustomModel": keras_ref.Model})
    chex.assert_trees_all_close([np.asarray(v) for v in theirs.optimizer.variables], want, rtol=0, atol=0)
    inputs = fkeras.Input(shape=(8,))
    again = guide_model_class(fkeras)(inputs, fkeras.layers.Dense(1)(inputs))
    again.compile(optimizer=fkeras.optimizers.Adam(0.05), loss="mse")
    again.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)  # its own list-structured state
    again.load_weights(tmp_path / "m.keras")
    chex.assert_trees_all_close([np.asarray(v) for v in again.optimizer.variables], want, rtol=0, atol=0)
