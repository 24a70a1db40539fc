"""One backend's benchmark process: `python -m cmva_benchmark.worker CONFIG_JSON OUT_JSON`.

`KERAS_BACKEND` must be set in the environment, and `benchmarks/` must be on
`PYTHONPATH` (the launcher does both).
Progress goes to stdout; the results to OUT_JSON.
"""

import dataclasses
import json
import sys

from cmva_benchmark.config import BenchmarkConfig


def config_from_json(text):
    """A `BenchmarkConfig` from `dataclasses.asdict` JSON (lists back to tuples)."""
    fields = json.loads(text)
    for key in ("hidden_units", "phases", "rows"):
        fields[key] = tuple(fields[key])
    return BenchmarkConfig(**fields)


def config_to_json(config):
    """JSON text of a `BenchmarkConfig`."""
    return json.dumps(dataclasses.asdict(config))


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    config = config_from_json(argv[1])

    def log(message):
        print(message, flush=True)

    from cmva_benchmark.runner import run_backend

    result = run_backend(config, log=log)
    with open(argv[2], "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
