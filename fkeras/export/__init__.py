"""`fkeras.export`: serving artifacts from an fkeras model, written through the shims.

    model.export("path/to/dir")                          # a TF SavedModel; `serve` is its endpoint
    model.export("model.onnx", format="onnx")            # ONNX, dynamic batch dimension
    archive = keras.export.ExportArchive()               # Keras's lower-level API (several endpoints)

A SavedModel holds the model's variables as `tf.Variable`s and its forward as a plain TF graph (the
model's own `apply` run on TF tensors by `fkeras.interop.tf`), so TF Serving, `tf.saved_model.load` or
`keras.layers.TFSMLayer` serve it with neither fkeras nor JAX installed. ONNX goes through the torch
shim (`fkeras.interop.torch`) and torch's exporter; `format="torch"` writes a `torch.export` program
(`.pt2`); `format="litert"` converts the SavedModel graph with TensorFlow Lite.
"""

from __future__ import annotations

from fkeras.export._atomic import atomic_path
from fkeras.export.archive import ExportArchive, input_specs
from fkeras.runtime.extras import import_tensorflow

__all__ = ["ExportArchive", "export_model"]

FORMATS = ("tf_saved_model", "onnx", "torch", "litert")


def _export_onnx(model, filepath, verbose, input_signature, opset_version=None):
    import torch

    from fkeras.interop.torch import to_torch

    specs = input_specs(model, input_signature)
    module = to_torch(model).eval()
    names = [name or f"input_{i}" for i, (_, _, name) in enumerate(specs)]
    examples = tuple(torch.zeros([1 if d is None else d for d in shape], dtype=getattr(torch, dtype))
                     for shape, dtype, _ in specs)
    dynamic_axes = {}
    for name, (shape, _, _) in zip(names, specs):
        free = {i: ("batch" if i == 0 else f"{name}_dim_{i}") for i, d in enumerate(shape) if d is None}
        if free:
            dynamic_axes[name] = free
    n_out = len(getattr(model, "outputs", None) or [None])
    output_names = [f"output_{i}" for i in range(n_out)]

    def write(tmp):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints/bools of static shapes
            # torch's TorchScript-based exporter: it keeps dynamic axes (as Keras's torch backend does)
            torch.onnx.export(module, examples, tmp, input_names=names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset_version, dynamo=False,
                              verbose=bool(verbose))

    atomic_path(filepath, write)
    if verbose or verbose is None:
        print(f"Saved artifact at '{filepath}'.")


def _export_torch(model, filepath, verbose, input_signature, **kwargs):
    import torch

    from fkeras.interop.torch import to_torch

    specs = input_specs(model, input_signature)
    module = to_torch(model).eval()
    examples = tuple(torch.zeros([1 if d is None else d for d in shape], dtype=getattr(torch, dtype))
                     for shape, dtype, _ in specs)
    program = torch.export.export(module, examples, **kwargs)
    atomic_path(filepath, lambda tmp: torch.export.save(program, tmp))
    if verbose or verbose is None:
        print(f"Saved artifact at '{filepath}'.")


def _export_litert(model, filepath, verbose, input_signature, **kwargs):
    tf = import_tensorflow("model.export(format='litert')")
    archive = ExportArchive()
    archive.track_and_add_endpoint("serve", model, input_signature)
    fn = archive._endpoint_concrete("serve")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], archive._root)
    for key, value in kwargs.items():
        setattr(converter, key, value)
    flatbuffer = converter.convert()

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(flatbuffer)

    atomic_path(filepath, write)
    if verbose or verbose is None:
        print(f"Saved artifact at '{filepath}'.")


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
    """`model.export(...)`: write `model` for inference as `format` (Keras's formats and arguments).

    tf_saved_model: a folder; `tf.saved_model.load(path).serve(x)` (and `serving_default`) run the forward.
    onnx: a file (`opset_version=` optional), inputs named after the model's inputs, dynamic batch.
    torch: a `torch.export` program file (`.pt2`), static shapes (None dims taken as 1).
    litert: a TensorFlow Lite flatbuffer (extra keywords set on the TFLiteConverter).
    """
    if format not in FORMATS:
        raise ValueError(f"Unrecognized format={format!r}: expected one of {FORMATS} "
                         "(OpenVINO export needs Keras's openvino backend, which fkeras does not ship).")
    if format == "tf_saved_model":
        unknown = set(kwargs) - {"is_static", "jax2tf_kwargs"}
        if unknown:
            raise TypeError(f"export(format='tf_saved_model'): unexpected keyword arguments {sorted(unknown)}.")
        archive = ExportArchive()
        archive.track_and_add_endpoint("serve", model, input_signature, **kwargs)
        archive.write_out(filepath, verbose=True if verbose is None else verbose)
    elif format == "onnx":
        unknown = set(kwargs) - {"opset_version"}
        if unknown:
            raise TypeError(f"export(format='onnx'): unexpected keyword arguments {sorted(unknown)}.")
        _export_onnx(model, filepath, verbose, input_signature, **kwargs)
    elif format == "torch":
        _export_torch(model, filepath, verbose, input_signature, **kwargs)
    else:
        _export_litert(model, filepath, verbose, input_signature, **kwargs)

