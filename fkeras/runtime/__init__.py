"""`fkeras.runtime`: the process fkeras runs in, at the ground floor (it imports nothing of fkeras above it).

- `io_utils`: where messages go (stdout, or `absl.logging` after `disable_interactive_logging()`), `print_msg`;
- `progbar`: Keras's `Progbar`, printed through `print_msg`;
- `traceback_utils`: the traceback-filtering switch;
- `rng_utils`: `set_random_seed` (Python, NumPy, TF, torch, and the hooks of floors above: `on_seed`);
- `extras`: optional packages (`require`, `import_tensorflow`): a missing one names the `fkeras[...]` extra;
- `lazy`: `lazy_attributes`, the `__getattr__`/`__dir__` of packages whose names load on first use;
- `files`: `atomic_write`, a file replaced whole or not at all (saves, downloads).

Their public names are Keras's, under `fkeras.utils` and `fkeras.config`.
"""
