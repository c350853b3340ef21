"""Run by tests/test_distribution.py in a subprocess with 8 virtual CPU devices.

Usage: python tests/dist_child.py CHECK   (prints one JSON line with the results)
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from fkeras import distribution as dist  # noqa: E402
from fkeras import nn, ops  # noqa: E402


def mlp():
    nn.clear_session()
    return nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(8, activation="relu"), nn.Dense(4)])


def data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 12)).astype("float32"), rng.integers(0, 4, size=(n,)).astype("int32")


def train_pure(distribution, steps=3):
    """The functional core with sharded pytrees: init, place, jit a step, run it."""
    model = mlp()
    v = model.init(jax.random.key(0), (None, 12))
    tx = optax.sgd(0.1, momentum=0.9)
    params, opt = v.params, tx.init(v.params)
    if distribution is not None:
        params = distribution.distribute_variables(params)
        opt = tx.init(params)  # optimizer state follows the params' shardings

    @jax.jit
    def step(params, opt, x, y):
        def loss(p):
            out, _ = model.apply(nn.Variables(p, {}), x)
            return jnp.mean(ops.sparse_categorical_crossentropy(y, out, from_logits=True))

        l, g = jax.value_and_grad(loss)(params)
        u, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, u), opt, l

    x, y = data()
    for i in range(steps):
        xb, yb = x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]
        if distribution is not None:
            xb, yb = distribution.distribute_batch((xb, yb))
        params, opt, l = step(params, opt, xb, yb)
    return params, float(l)


def shardings(tree):
    """path -> the mesh axis (or None) of each dimension of the leaf."""
    return {dist.path_of(k): list(leaf.sharding.spec) + [None] * (leaf.ndim - len(leaf.sharding.spec))
            for k, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def main(check):
    out = {"devices": len(jax.devices())}
    ref, ref_loss = train_pure(None)
    if check == "pure":
        dp = dist.DataParallel()
        p_dp, l_dp = train_pure(dp)
        mesh = dist.DeviceMesh((2, 4), ("batch", "model"))
        lm = dist.LayoutMap(mesh)
        lm["dense.*/kernel"] = (None, "model")
        lm["dense.*/bias"] = ("model",)
        mp = dist.ModelParallel(layout_map=lm, batch_dim_name="batch")
        p_mp, l_mp = train_pure(mp)
        diff = lambda a, b: float(max(jnp.max(jnp.abs(x - y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))))  # noqa: E731
        out.update(dp_diff=diff(p_dp, ref), mp_diff=diff(p_mp, ref), loss=[ref_loss, l_dp, l_mp],
                   dp_shardings=shardings(p_dp), mp_shardings=shardings(p_mp))
    elif check == "errors":
        errors = []
        mesh = dist.DeviceMesh((2, 4), ("batch", "model"))
        try:
            lm = dist.LayoutMap(mesh)
            lm["dense/kernel"] = (None, "modle")
        except ValueError as e:
            errors.append(str(e))
        lm = dist.LayoutMap(mesh)
        lm["dense_2/kernel"] = ("model", None)  # 8 rows: fine; dense_2 bias (4,) on model(4): fine
        lm["dense_1/kernel"] = (None, "batch")  # 8 cols / 2: fine
        lm["dense/kernel"] = ("model", None)  # 12 rows / 4: fine
        lm["dense/bias"] = ("model",)  # 16 / 4 fine
        ok = dist.ModelParallel(layout_map=lm)
        model = mlp()
        ok.distribute_variables(model.init(jax.random.key(0), (None, 12)).params)
        bad = dist.LayoutMap(dist.DeviceMesh((1, 8), ("batch", "model")))
        bad["dense/kernel"] = ("model", None)  # 12 rows not divisible by 8
        try:
            dist.ModelParallel(layout_map=bad).distribute_variables(mlp().init(jax.random.key(0), (None, 12)).params)
        except ValueError as e:
            errors.append(str(e))
        try:
            dist.DeviceMesh((3, 4), ("a", "b"))
        except ValueError as e:
            errors.append(str(e))
        out["errors"] = errors
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
