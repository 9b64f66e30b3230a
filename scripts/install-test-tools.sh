#!/usr/bin/env bash
# System packages the tests start for real: a GStreamer RTSP server for the live-stream tests
# (tests/support/rtsp_loop_server.py runs under Debian's /usr/bin/python3 with these bindings), and
# Chromium with its driver for the console's browser tests.
# Debian/Ubuntu; needs root (or sudo). Does nothing when they are installed already.
# Also the OpenAPI client generator the API's tests build a client with, in an environment of its own
# (.tools/openapi): it pins typer below the version facesearch itself runs with.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .tools/openapi/bin/openapi-python-client ]; then
    "$PYTHON" -m venv .tools/openapi
    .tools/openapi/bin/python -m pip install --quiet --disable-pip-version-check 'openapi-python-client>=0.21'
fi
# PyTorch's CPU build, for the tests of the GPU path's graph interpreter (models/torch_graph.py) on the CPU:
# from PyTorch's own index (a plain `pip install torch` takes a CUDA build of several GB).
if [ -x .venv/bin/python ] && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --timeout 30 --retries 2 \
        --index-url https://download.pytorch.org/whl/cpu 'torch==2.13.0'
fi
PACKAGES=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          gstreamer1.0-plugins-bad chromium chromium-driver)
if /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' \
    2>/dev/null && gst-inspect-1.0 h264parse >/dev/null 2>&1 && gst-inspect-1.0 qtdemux >/dev/null 2>&1 \
    && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" gstreamer1.0-tools >/dev/null
