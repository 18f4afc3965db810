#!/bin/sh
# Install Steward into a fresh virtual environment at $1 from the lock file, as the
# container image does (Dockerfile) and as CI proves it (ops/check-image.sh).
set -eu
prefix="${1:?usage: ops/install.sh PREFIX}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python3 -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --no-cache-dir --upgrade pip
"$prefix/bin/python" -m pip install --quiet --no-cache-dir --require-hashes -r "$here/requirements.lock"
"$prefix/bin/python" -m pip install --quiet --no-cache-dir --no-deps "$here"
"$prefix/bin/steward" --version
