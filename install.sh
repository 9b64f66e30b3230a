#!/usr/bin/env bash
# Installs facesearch on a fresh machine with Python 3.11+ and Node.js/npm:
# a virtual environment in .venv, the package with its test tools, and the models converted into ONNX
# under the data directory ($FACESEARCH_HOME, default ~/.local/share/facesearch).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/facesearch models install
.venv/bin/facesearch assets install
