"""The benchmark's Markdown table, and the machine description that goes with it."""

import datetime
import json
import os
import platform

LABELS = {
    ("tensorflow", "keras"): "Keras TF, jit_compile=False",
    ("tensorflow", "keras_all_terms"): "Keras TF, every term every step",
    ("tensorflow", "keras_batch_logs"): "Keras TF, Keras' CallbackList (every step's logs to Python)",
    ("tensorflow", "keras_xla"): "Keras TF, jit_compile=True (XLA)",
    ("tensorflow", "hand"): "hand-written TF: tf.function + GradientTape + hand Adam",
    ("tensorflow", "hand_xla"): "hand-written TF, tf.function(jit_compile=True)",
    ("jax", "keras"): "Keras JAX (jit)",
    ("jax", "keras_all_terms"): "Keras JAX, every term every step",
    ("jax", "keras_batch_logs"): "Keras JAX, Keras' CallbackList (every step's logs to Python)",
    ("jax", "keras_spe10"): "Keras JAX, steps_per_execution=10",
    ("jax", "hand"): "hand-written JAX: jax.jit + hand Adam",
    ("torch", "keras"): "Keras torch, default (eager)",
    ("torch", "keras_all_terms"): "Keras torch, every term every step",
    ("torch", "keras_batch_logs"): "Keras torch, Keras' CallbackList (every step's logs to Python)",
    ("torch", "keras_compile"): "Keras torch, jit_compile=True (torch.compile)",
    ("torch", "hand"): "hand-written PyTorch eager + torch.optim.Adam",
}
"""Human-readable name of each (backend, row)."""


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or `platform.processor()`."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    """nproc, CPU model, OS, Python, and the UTC date of the run."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
"""The leading fields of /proc/stat's `cpu` line, in clock ticks summed over CPUs (guest time is within user)."""


def cpu_counters(path="/proc/stat"):
    """The machine's cumulative CPU times `{field: ticks}` (`STAT_FIELDS`), or None where /proc/stat is missing
    or has no `cpu` line (not Linux)."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == "cpu":
                    values = [int(v) for v in parts[1:1 + len(STAT_FIELDS)]]
                    return dict(zip(STAT_FIELDS, values + [0] * (len(STAT_FIELDS) - len(values))))
    except (OSError, ValueError):
        return None
    return None


def steal_fraction(before, after):
    """The share of the machine's CPU time between two `cpu_counters` that the hypervisor gave to other guests
    ("steal": time a virtual CPU was ready to run and did not), or None where either is unknown or no time
    passed. A quiet virtual machine shows about 0; what this takes from a benchmark's wall time is invisible to
    load averages and to the process's own CPU clock."""
    if not before or not after:
        return None
    total = sum(after[k] - before[k] for k in STAT_FIELDS)
    return (after["steal"] - before["steal"]) / total if total > 0 else None


def write_results(out_dir, stem, text, data):
    """Writes `<out_dir>/<stem>.md` (`text`) and `<out_dir>/<stem>.json` (`data`), making `out_dir` if needed."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{stem}.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, f"{stem}.json"), "w") as f:
        json.dump(data, f, indent=1)


def _fmt(value, digits=1):
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(value):
    return "n/a" if value is None else f"{value:.2f}x"


def phase_table(results, phase):
    """Markdown table of one phase over every backend in `results` (`{backend: run_backend(...) dict}`)."""
    torch_hand = results.get("torch", {}).get("phases", {}).get(str(phase), {}).get("rows", {}).get("hand")
    lines = [
        "| setup | steps/s (median) | min-max | vs hand-written, same framework | steps per CPU-s "
        "| vs hand-written, CPU time | vs hand-written PyTorch | first step (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, result in results.items():
        rows = result.get("phases", {}).get(str(phase), {}).get("rows", {})
        for name, row in rows.items():
            label = LABELS.get((backend, name), f"{backend} {name}")
            reference = name == "hand"
            ratio = "1.00 (reference)" if reference else _ratio(row.get("ratio"))
            cpu_ratio = "1.00 (reference)" if reference else _ratio(row.get("cpu_ratio"))
            vs_torch = _ratio(row["steps_per_s"] / torch_hand["steps_per_s"]) if torch_hand else "n/a"
            lines.append(
                f"| {label} | {_fmt(row['steps_per_s'])} | {_fmt(row['min'])}-{_fmt(row['max'])} | {ratio} "
                f"| {_fmt(row.get('steps_per_cpu_s'))} | {cpu_ratio} | {vs_torch} | {_fmt(row['first_step_s'], 2)} |"
            )
    return "\n".join(lines)


def markdown_report(results, command, machine, config):
    """The full Markdown report: command, machine, settings, one table per phase, the checks."""
    phases = sorted({p for r in results.values() for p in r.get("phases", {})}, reverse=True)
    out = [
        f"Command: `{command}`",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['platform']}, "
        f"Python {machine['python']}; run {machine['date']}.",
        "",
        f"Model: MLP CMVA, {config['input_dim']}-d input, hidden {list(config['hidden_units'])}, latent "
        f"{config['latent_dim']}, batch {config['batch_size']}, Adam(lr={config['learning_rate']}, "
        f"beta_1={config['beta_1']}, beta_2={config['beta_2']}, epsilon={config['epsilon']}); "
        f"{config['rounds']} rounds of {config['steps_per_round']} steps after {config['warmup_steps']} warm-up steps.",
        "",
    ]
    for backend, result in results.items():
        versions = ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items())
        out.append(
            f"- {backend}: {versions}; load average {_fmt(result.get('load_before'), 2)} before, "
            f"{_fmt(result.get('load_after'), 2)} after; {_fmt(result.get('seconds'), 0)} s."
        )
    for phase in phases:
        loads = {b: r["phases"][phase].get("load_per_round") for b, r in results.items() if phase in r.get("phases", {})}
        title = {"3": "everything trained", "2": "only the mapper trained", "1": "branches trained"}.get(phase, "")
        out += ["", f"### Phase {phase} ({title})", "", phase_table(results, phase), "",
                "Load average after each round: " + "; ".join(
                    f"{b} " + ", ".join(_fmt(v) for v in (load or [])) for b, load in loads.items())]
    out += ["", "First-step loss of each hand-written loop against `CMVA.compute_objective`, "
                "same weights, batch and noise (largest relative error over phases):", ""]
    for backend, result in results.items():
        worst = {}
        for phase_result in result.get("phases", {}).values():
            for row, errors in phase_result.get("checks", {}).items():
                worst[row] = max(worst.get(row, 0.0), errors["loss"])
        out.append(f"- {backend}: " + ", ".join(f"{row} {err:.1e}" for row, err in worst.items()))
    return "\n".join(out) + "\n"

