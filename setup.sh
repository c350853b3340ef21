#!/bin/sh
# Set-up on a fresh machine: graphviz (the system package `plot_model` draws with), then fkeras with every
# extra (torch is pinned to the 2.13.0 CPU wheel; keras==3.15.1 comes as the test oracle only).
set -e
cd "$(dirname "$0")"
if ! command -v dot >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    if command -v apt-get >/dev/null 2>&1; then
        $SUDO apt-get install -y -q graphviz >/dev/null 2>&1 \
            || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q graphviz >/dev/null 2>&1; } \
            || echo "setup.sh: could not install graphviz with apt-get; plot_model will say how to get it." >&2
    elif command -v brew >/dev/null 2>&1; then
        brew install graphviz || echo "setup.sh: could not install graphviz with brew." >&2
    else
        echo "setup.sh: graphviz not found and no apt-get/brew to install it; plot_model will say how to get it." >&2
    fi
fi
python -m pip install -q -e ".[all]"
