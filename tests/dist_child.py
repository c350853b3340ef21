"""Run by tests/test_distribution.py in a subprocess with 8 virtual CPU devices.

Usage: python tests/dist_child.py CHECK [ARGS...]   (prints one JSON line with the results)
FKERAS_TEST_DEVICES sets the number of virtual devices (default 8).
"""

import json
import os
import sys

N_DEVICES = int(os.environ.get("FKERAS_TEST_DEVICES", "8"))
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={N_DEVICES}"

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


def multiprocess(process_id, port):
    """One of two processes: DataParallel over 2 processes x 2 devices, each feeding its own rows."""
    dist.initialize(job_addresses=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    dp = dist.DataParallel()
    model = mlp()
    v = model.init(jax.random.key(0), (None, 12))
    tx = optax.sgd(0.1, momentum=0.9)  # as in train_pure, the single-process reference
    params = dp.distribute_variables(v.params)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, x, y):
        def loss(p):
            out, _ = model.apply(nn.Variables(p, {}), x)
            return jnp.mean(ops.sparse_categorical_crossentropy(y, out, from_logits=True))

        g = jax.grad(loss)(params)
        u, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, u), opt

    x, y = data()
    for i in range(3):
        rows = slice(i * 16, (i + 1) * 16)
        local = dp.process_slice(16)  # this process's half of the global batch
        xb, yb = dp.distribute_batch((x[rows][local], y[rows][local]))
        params, opt = step(params, opt, xb, yb)
    # Gather to host (fully replicated already under DataParallel) and fingerprint.
    flat = np.concatenate([np.asarray(jax.device_get(p.addressable_data(0))).ravel() for p in jax.tree.leaves(params)])
    ref, _ = train_pure(None)
    ref_flat = np.concatenate([np.asarray(p).ravel() for p in jax.tree.leaves(ref)])
    out = {"process": jax.process_index(), "count": jax.process_count(), "devices": len(jax.devices()),
           "checksum": float(flat.sum()), "first": flat[:4].tolist(), "ref_diff": float(np.abs(flat - ref_flat).max())}
    jax.distributed.shutdown()
    return out


def orbax_roundtrip(mode, directory):
    """Save sharded params on a 4-device mesh ("save"), restore them onto a 2-device mesh ("restore")."""
    import orbax.checkpoint as ocp

    model = mlp()
    params = model.init(jax.random.key(0), (None, 12)).params
    mesh = dist.DeviceMesh((len(jax.devices()),), ("model",))
    lm = dist.LayoutMap(mesh)
    lm["dense/kernel"] = (None, "model")
    lm["dense/bias"] = ("model",)
    mp = dist.ModelParallel(layout_map=lm)
    ckptr = ocp.StandardCheckpointer()
    if mode == "save":
        sharded = mp.distribute_variables(params)
        ckptr.save(os.path.join(directory, "ckpt"), sharded)
        ckptr.wait_until_finished()
        return {"saved_devices": len(jax.devices()),
                "kernel_shards": len(sharded["dense"]["kernel"].addressable_shards)}
    shardings = mp.variable_shardings(params)
    target = jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), params, shardings)
    restored = ckptr.restore(os.path.join(directory, "ckpt"), target)
    diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(jax.tree.leaves(restored),
                                                                                  jax.tree.leaves(params)))
    return {"restored_devices": len(jax.devices()), "diff": diff,
            "kernel_shards": len(restored["dense"]["kernel"].addressable_shards),
            "kernel_axes": list(restored["dense"]["kernel"].sharding.spec)}


def facade_fit(distribution, epochs=2):
    """The Keras facade: compile + fit (shuffle off, dropout on) under `distribution` (None: one device)."""
    import fkeras as keras

    keras.nn.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((12,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.25), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["acc"])
    x, y = data(72)  # 72 rows, batch 16: the last batch (8 rows) is ragged
    if distribution is None:
        hist = model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0, validation_split=0.25)
    else:
        with distribution.scope():
            hist = model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0, validation_split=0.25)
    return model, hist.history


def multiprocess_fit(process_id, port):
    """One of two processes: the facade's fit under DataParallel, each process reading its own rows."""
    import fkeras as keras

    dist.initialize(job_addresses=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    keras.nn.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((12,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["acc"])
    x, y = data(64)
    with dist.DataParallel().scope():
        hist = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=1)
    flat = np.concatenate([w.ravel() for w in model.get_weights()])
    out = {"process": jax.process_index(), "checksum": float(flat.sum()), "first": flat[:4].tolist(),
           "loss": hist.history["loss"]}
    jax.distributed.shutdown()
    return out


def main(check, *args):
    if check == "multiprocess_fit":
        print(json.dumps(multiprocess_fit(int(args[0]), int(args[1]))))
        return
    if check == "multiprocess":
        print(json.dumps(multiprocess(int(args[0]), int(args[1]))))
        return
    if check == "orbax":
        print(json.dumps(orbax_roundtrip(args[0], args[1])))
        return
    out = {"devices": len(jax.devices())}
    if check == "fit":
        ref_model, ref_hist = facade_fit(None)
        ref_w = ref_model.get_weights()
        mesh = dist.DeviceMesh((2, 4), ("batch", "model"))
        lm = dist.LayoutMap(mesh)
        lm["sequential/dense.*/kernel"] = (None, "model")  # Keras's variable paths (not pytree paths)
        for name, d in (("dp", dist.DataParallel()), ("mp", dist.ModelParallel(layout_map=lm))):
            model, hist = facade_fit(d)
            w = model.get_weights()
            out[name + "_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(w, ref_w))
            out[name + "_val_loss"] = [hist["val_loss"][-1], ref_hist["val_loss"][-1]]
            out[name + "_shardings"] = shardings(model.train_state.params)
        print(json.dumps(out))
        return
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
    main(*sys.argv[1:])
