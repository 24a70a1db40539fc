"""Puts `benchmarks/` on `sys.path`, so that `pytest benchmarks/tests` imports `cmva_benchmark`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
