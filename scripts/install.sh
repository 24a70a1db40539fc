#!/usr/bin/env bash
# Creates .venv and installs cmva-keras with every backend, the test tools and
# Apache Beam (the `beam` extra: Beam-prepared datasets and their tests), at the
# versions measured together (constraints.txt). torch is installed first
# and pinned to 2.13.0, the CPU wheel: an unpinned torch pulls a CUDA build of
# several GB. Safe to run again: pip skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[test,beam]"
echo "Installed into $(pwd)/.venv"
