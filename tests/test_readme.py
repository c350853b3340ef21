"""The README's code blocks run as written (they are the first thing a newcomer copies)."""

import pathlib
import re

import jax
import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    ns = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)  # noqa: S102
    x = np.random.rand(8, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, 8)
    params, _, loss = ns["step"](ns["variables"].params, ns["opt_state"], x, y, jax.random.key(0))
    assert np.isfinite(float(loss))
    assert ns["model"].count_params() == 32 * 9 + 32 + 32 * 10 + 10


def test_readme_set_up_commands_match_ci():
    commands = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)[0].strip().splitlines()
    assert len(commands) == 2
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci
