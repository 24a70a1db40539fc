#!/usr/bin/env bash
# Lints, then runs the whole test suite once per Keras backend (tensorflow, jax, torch),
# each in its own processes, and prints one closing line with the totals.
# Extra arguments go to pytest (e.g. -k cmva, -x).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python
# Two workers (one per core on the reference machine); --dist loadfile keeps a
# file on one worker, so module-scoped fixtures (the smoke runs) are built once.
WORKERS="${CMVA_TEST_WORKERS:-2}"
report_dir="$(mktemp -d)"
status=0
# Lint first (ruff, configured in pyproject.toml): a second, and it names the file and line.
echo "=== ruff check"
"$PYTHON" -m ruff check . || status=1
for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND="$backend" CUDA_VISIBLE_DEVICES="" TF_CPP_MIN_LOG_LEVEL=2 \
    "$PYTHON" -m pytest -q -n "$WORKERS" --dist loadfile -p no:cacheprovider \
    --junitxml="$report_dir/$backend.xml" "$@" || status=1
done
"$PYTHON" - "$report_dir" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        tests, fail = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += tests - fail - skip; failed += fail; skipped += skip
print(f"all-backends: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
