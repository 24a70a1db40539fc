"""`bar`: the progress bar of the one-time steps that take a minute (generating and preparing the offline sets).

On a terminal it is a tqdm bar on stderr with the count, the rate and the
ETA, removed when the step ends. Anywhere else (CI logs, a file) there is no
bar, since each update would add to the log; the callers log one line when a
step starts and one summary line (counts and time) when it ends, which is
all a log needs.
"""

import sys

import tqdm


def bar(iterable=None, *, total=None, description, unit):
    """A `tqdm.tqdm` over `iterable` (or updated by hand) shown only when stderr is a terminal.

    Args:
        iterable: what to iterate over, or None to call `update(n)` yourself.
        total: the expected count (for the percentage and the ETA); None
            shows the count and the rate only.
        description: what is being done ("generating yummly28k").
        unit: what is counted ("recipes").
    """
    return tqdm.tqdm(
        iterable, total=total, desc=description, unit=f" {unit}", file=sys.stderr,
        disable=not _on_terminal(sys.stderr), leave=False, dynamic_ncols=True, mininterval=0.5,
    )


def _on_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
