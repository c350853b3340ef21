"""`optimizer.variables` and `optimizer.iterations` as Keras 3.15 gives them: Variables with Keras's paths
and names, read live from the optimizer's state (its model's TrainState once compiled), assignable (checked
before writing), usable as arrays and in a jitted `stateless_apply` loop."""

import chex
import jax
import numpy as np
import pytest

import fkeras

keras = pytest.importorskip("keras")


def _model(lib):
    return lib.Sequential([lib.layers.Input((3,)), lib.layers.Dense(4), lib.layers.Dense(2)])


@pytest.mark.parametrize("wrap", ["plain", "loss_scale", "amsgrad"])
def test_paths_names_and_values_equal_keras(wrap):
    grads = [np.full(s, 0.5, "float32") for s in [(3, 4), (4,), (4, 2), (2,)]]
    out = []
    keras.backend.clear_session(free_memory=False)  # Keras numbers optimizer names per session (adam, adam_1, ...)
    for lib in (fkeras, keras):
        lib.utils.set_random_seed(0)
        model = _model(lib)
        opt = lib.optimizers.Adam(1e-2, amsgrad=wrap == "amsgrad")
        if wrap == "loss_scale":
            opt = lib.optimizers.LossScaleOptimizer(opt)
        opt.build(model.trainable_variables)
        if wrap != "loss_scale":  # Keras 3.15's eager LossScaleOptimizer.apply_gradients leaks a tracer on JAX
            opt.apply_gradients(zip(grads, model.trainable_variables))
        out.append(opt)
    ours, theirs = out
    assert [v.path for v in ours.variables] == [v.path for v in theirs.variables]
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    assert not any(v.trainable for v in ours.variables)
    steps = 0 if wrap == "loss_scale" else 1
    assert ours.iterations.path == theirs.iterations.path and int(ours.iterations) == int(theirs.iterations) == steps
    chex.assert_trees_all_close([np.asarray(v) for v in ours.variables][1:],
                                [np.asarray(v.value) for v in theirs.variables][1:], rtol=1e-6, atol=1e-7)


def test_views_are_live_assignable_and_checked():
    model = _model(fkeras)
    model.compile(optimizer="adam", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    opt = model.optimizer
    it, momentum = opt.iterations, opt.variables[2]
    assert it is opt.variables[0] and momentum.path == "adam/sequential_dense_kernel_momentum"
    assert it == 2 and int(it) == 2 and it + 1 == 3 and it.numpy() == 2 and it.dtype == "int32"
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert int(it) == 4  # the same object reads the TrainState as it is now
    assert np.asarray(momentum).any()
    momentum.assign(np.zeros((3, 4)))
    assert not np.asarray(model.optimizer.variables[2]).any()  # written into the model's TrainState
    before = [np.asarray(v) for v in opt.variables]
    with pytest.raises(ValueError, match=r"adam/sequential_dense_kernel_momentum': expected a value of shape \(3, 4\)"):
        momentum.assign(np.zeros((4, 3)))
    chex.assert_trees_all_equal([np.asarray(v) for v in opt.variables], before)  # nothing written
    it.assign(10)
    assert int(opt.iterations) == 10 and int(model.train_state.opt_state.iterations) == 10


def test_unbuilt_and_gradient_accumulation():
    opt = fkeras.optimizers.SGD(0.1, gradient_accumulation_steps=2)
    assert opt.variables == [] and opt.iterations == 0
    v = fkeras.Variable(np.ones(3, "float32"))
    for _ in range(3):
        opt.apply_gradients([(np.ones(3, "float32"), v)])
    assert int(opt.iterations) == 1  # Keras: the iteration variable // gradient_accumulation_steps
    assert int(opt.variables[0]) == 3


def test_jitted_stateless_loop_takes_the_views():
    model = _model(fkeras)
    opt = fkeras.optimizers.Adam(1e-2)
    opt.build(model.trainable_variables)

    @jax.jit
    def step(ov, tv):
        grads = [np.ones(t.shape, "float32") for t in tv]
        return opt.stateless_apply(ov, grads, tv)

    tv, ov = step(opt.variables, model.trainable_variables)
    assert int(ov[0]) == 1 and len(ov) == len(opt.variables)
