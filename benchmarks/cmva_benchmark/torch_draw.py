"""Same-process A/B of the PyTorch step's noise draw: `keras_private.seeded_normal`'s own draw against Keras'.

`keras_private.seeded_normal` draws the reparameterisation noise that
`keras.random.normal` would draw, with the same values and seed state, but
without Keras' per-call bookkeeping on PyTorch. The gain (about 0.1 ms a draw,
four draws a CMVA step) is below what separate benchmark runs resolve on a
shared machine, where rounds spread by 10% or more. So this times both arms
in one process, on one compiled model, in alternating rounds (own, Keras,
Keras, own, ...), each round one `fit` epoch of `steps` steps on in-memory
batches, in process CPU time; the switch is the check's cached verdict
(`keras_private._TORCH_NORMAL_CHECKED`), which makes `seeded_normal` call
`keras.random.normal` when False. It reports, per phase, the median of the
per-round speed-ups (Keras' CPU time over the own draw's, round by round)
and in how many rounds the own draw was faster; first, the microseconds of
one draw in each arm and of `torch.randn` (`time_draws`).

    KERAS_BACKEND=torch .venv/bin/python benchmarks/run.py --torch_draw_ab --phases 3,2 --rounds 20 --steps 100
"""

import contextlib
import statistics
import time


@contextlib.contextmanager
def draw_arms():
    """Yields `use(own)`, which makes `seeded_normal` draw itself (`own`) or call `keras.random.normal`.

    Refuses to compare where the own draw is not in use (it does not match
    Keras' here); puts the setting back on leaving.
    """
    from cmva_keras.backend import keras_private

    if not keras_private._torch_normal_matches_keras():
        raise RuntimeError("seeded_normal's own PyTorch draw does not match keras.random.normal here; nothing to compare")
    checked = keras_private._TORCH_NORMAL_CHECKED

    def use(own):
        checked[0] = bool(own)

    try:
        yield use
    finally:
        checked[0] = True


def time_phase(config, phase, steps, rounds):
    """`{"own_s": [...], "keras_s": [...]}`: each arm's CPU seconds per round of `steps` steps in `phase`."""
    import keras
    import numpy as np

    from cmva_benchmark.model import build_benchmark_cmva, make_adam, synthetic_batches

    model = build_benchmark_cmva(config, phase=phase)
    model.compile(optimizer=make_adam(config))
    batches = synthetic_batches(config)
    x, y = (np.concatenate([b[i] for b in batches]) for i in (0, 1))
    size = steps * config.batch_size
    x, y = (np.resize(a, (size,) + a.shape[1:]) for a in (x, y))

    def epoch():
        start = time.process_time()
        model.fit(x, y, batch_size=config.batch_size, epochs=1, verbose=0, shuffle=False)
        return time.process_time() - start

    times = {True: [], False: []}
    with draw_arms() as use:
        for own in (True, False):  # one untimed epoch per arm
            use(own)
            epoch()
        for i in range(rounds):
            for own in ((True, False) if i % 2 == 0 else (False, True)):
                use(own)
                times[own].append(epoch())
    keras.backend.clear_session()
    return {"own_s": times[True], "keras_s": times[False]}


def time_draws(draws=3000, shape=(64, 64)):
    """Microseconds per draw of `shape` (the benchmark's batch by latent size): `{"own", "keras", "torch_randn"}`.

    Each is the median of 5 loops of `draws` draws after 100 untimed ones,
    in wall time; "own" and "keras" are `seeded_normal` in each arm, and
    "torch_randn" is PyTorch's own `torch.randn`, which seeds nothing.
    """
    import keras
    import torch

    from cmva_keras.backend import keras_private

    seed_generator = keras.random.SeedGenerator(0)

    def per_draw(draw):
        for _ in range(100):
            draw()
        loops = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(draws):
                draw()
            loops.append((time.perf_counter() - start) / draws * 1e6)
        return statistics.median(loops)

    figures = {}
    with draw_arms() as use:
        for name, own in (("own", True), ("keras", False)):
            use(own)
            figures[name] = per_draw(lambda: keras_private.seeded_normal(shape, "float32", seed_generator))
    figures["torch_randn"] = per_draw(lambda: torch.randn(*shape))
    return figures


def summary(timed, steps):
    """Per-step milliseconds of each arm (medians), and the per-round speed-ups of the own draw."""
    speedups = [k / o for o, k in zip(timed["own_s"], timed["keras_s"])]
    return {
        "own_ms_per_step": 1e3 * statistics.median(timed["own_s"]) / steps,
        "keras_ms_per_step": 1e3 * statistics.median(timed["keras_s"]) / steps,
        "speedup_median": statistics.median(speedups),
        "speedup_range": (min(speedups), max(speedups)),
        "own_faster_rounds": sum(s > 1.0 for s in speedups),
        "rounds": len(speedups),
    }


def report_line(phase, steps, figures):
    return (f"phase {phase}: {figures['rounds']} rounds of {steps} steps, CPU ms per step: own draw "
            f"{figures['own_ms_per_step']:.2f}, keras.random.normal {figures['keras_ms_per_step']:.2f}; "
            f"speed-up of the own draw, median of rounds {figures['speedup_median']:.3f}x "
            f"({figures['speedup_range'][0]:.3f}-{figures['speedup_range'][1]:.3f}), "
            f"faster in {figures['own_faster_rounds']} of {figures['rounds']} rounds")
