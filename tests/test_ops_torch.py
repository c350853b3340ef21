"""fkeras.ops on torch tensors equals fkeras.ops on JAX arrays, op by op (values and gradients).

Cases come from tests/test_ops_jax.py (`CASES`). fp32; tolerance rtol=atol=1e-5, 1e-4 for
conv/pooling (stated per case). Gradients: d/d(args) of sum(op(args) * cotangent) with a fixed
random cotangent, JAX (`jax.grad`) vs torch autograd.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fkeras.ops as fops  # noqa: E402
from fkeras.ops._dispatch import backend  # noqa: E402

_jax, _torch = backend("jax"), backend("torch")  # every implementation of each framework
from test_ops_jax import CASES, assert_same, to_framework  # noqa: E402

GRAD_CASES = [c for c in CASES if c.grad]


def _run(case, framework, args, kwargs):
    if case.creation:  # ops that take no arrays run on JAX through fkeras.ops; call the backend directly
        return getattr(_torch if framework == "torch" else _jax, case.op)(*args, **kwargs)
    convert = torch.from_numpy if framework == "torch" else jnp.asarray
    return getattr(fops, case.op)(*to_framework(args, convert), **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_matches_jax(case):
    args, kwargs = case.build()
    want = _run(case, "jax", args, kwargs)
    got = _run(case, "torch", args, kwargs)
    for g in jax.tree_util.tree_leaves(got, is_leaf=lambda x: isinstance(x, torch.Tensor)):
        if hasattr(g, "shape") and not case.creation and case.op not in ("convert_to_numpy",):
            assert isinstance(g, torch.Tensor), f"{case.op} on torch returned {type(g).__name__}"
    assert_same(got, want, case.tol)


def _cotangents(out, seed=0):
    r = np.random.default_rng(seed)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [r.standard_normal(tuple(o.shape)).astype(np.float32) for o in outs]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_torch_gradients_match_jax(case):
    args, kwargs = case.build()
    op = case.op
    cts = _cotangents(getattr(fops, op)(*to_framework(args, jnp.asarray), **kwargs))

    def jax_loss(*diff):
        full = to_framework(args, jnp.asarray)
        for i, d in zip(case.grad, diff):
            full[i] = d
        out = getattr(fops, op)(*full, **kwargs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return sum(jnp.sum(o * c) for o, c in zip(outs, cts))

    want = jax.grad(jax_loss, argnums=tuple(range(len(case.grad))))(*[jnp.asarray(args[i]) for i in case.grad])

    full = to_framework(args, torch.from_numpy)
    leaves = []
    for i in case.grad:
        full[i] = full[i].clone().requires_grad_(True)
        leaves.append(full[i])
    out = getattr(fops, op)(*full, **kwargs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    sum(torch.sum(o * torch.from_numpy(c)) for o, c in zip(outs, cts)).backward()
    got = [t.grad for t in leaves]
    assert_same(got, list(want), case.tol)


def test_results_stay_torch_and_keep_autograd():
    x = torch.randn(2, 5, 5, 3, requires_grad=True)
    k = torch.randn(3, 3, 3, 4, requires_grad=True)
    y = fops.mean(fops.relu(fops.conv(x, k, padding="same")))
    assert isinstance(y, torch.Tensor) and y.requires_grad
    y.backward()
    assert x.grad is not None and k.grad is not None


def test_python_scalars_mix_with_tensors():
    x = torch.tensor([-1.0, 0.5, 2.0])
    assert_same(fops.maximum(x, 0.0), np.array([0.0, 0.5, 2.0], np.float32), 0)
    assert_same(fops.add(1, x), np.array([0.0, 1.5, 3.0], np.float32), 0)
    assert_same(fops.where(x > 0, x, 0), np.array([0.0, 0.5, 2.0], np.float32), 0)
    assert fops.multiply(x, 2).dtype == torch.float32
    assert fops.maximum(torch.tensor([1, 5], dtype=torch.int32), 3).dtype == torch.int32
    both = fops.where(x > 0, 1.0, 0)
    assert both.dtype == torch.float32 and both.tolist() == [0.0, 1.0, 1.0]
    assert fops.where(x > 0, 1, 0).dtype == torch.int32


def test_results_stay_on_the_inputs_device():
    """Every op's outputs live where its inputs live (checked with torch's "meta" device on CPU-only hosts)."""
    for case in CASES:
        if case.creation or case.op == "convert_to_numpy":
            continue
        args, kwargs = case.build()
        out = getattr(fops, case.op)(*to_framework(args, lambda a: torch.from_numpy(a).to("meta")), **kwargs)
        for leaf in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(leaf, torch.Tensor):
                assert leaf.device.type == "meta", f"{case.id}: result on {leaf.device}"


def test_op_missing_on_a_framework_names_op_and_framework(monkeypatch):
    monkeypatch.delattr(_torch, "erf")
    with pytest.raises(NotImplementedError, match=r"fkeras\.ops\.erf.*torch"):
        fops.erf(torch.ones(2))
    # The JAX side is untouched.
    assert_same(fops.erf(jnp.zeros(2)), np.zeros(2, np.float32), 0)


def test_mixing_torch_and_tf_tensors_is_a_value_error():
    tf = pytest.importorskip("tensorflow")
    with pytest.raises(ValueError, match="torch and tensorflow|tensorflow and torch"):
        fops.add(torch.ones(2), tf.ones(2))
    with pytest.raises(ValueError, match="two frameworks"):
        fops.concatenate([torch.ones(2), tf.ones(2)])


def test_bad_arguments_raise_clear_errors():
    x = torch.randn(1, 5, 5, 2)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        fops.conv(x, torch.randn(3, 3, 2, 1), padding="full")
    with pytest.raises(ValueError, match="data_format"):
        fops.max_pool(x, 2, data_format="NHWC")
    with pytest.raises(ValueError, match="squeeze"):
        fops.squeeze(torch.ones(2, 3), axis=0)
    with pytest.raises(ValueError, match="mode"):
        fops.pad(torch.ones(2, 3), 1, mode="linear_ramp")
