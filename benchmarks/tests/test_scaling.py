"""The data-parallel scaling benchmark's table, device environments and refusals (no model is trained here)."""

import pytest

from cmva_benchmark.scaling import environment, markdown_table, run_scaling


def result(task, devices, steps_per_s, per_device_batch=32):
    return {"task": task, "backend": "jax", "devices": devices, "device_kind": "virtual cpu",
            "per_device_batch": per_device_batch, "global_batch": per_device_batch * devices,
            "steps_per_s": steps_per_s}


def test_scaling_efficiency_is_throughput_over_devices_times_one_device_throughput():
    text = markdown_table([result("food", 1, 4.0), result("food", 2, 3.0), result("hand", 2, 1.0)], "cmd")
    lines = text.splitlines()
    assert "`cmd`" in lines[0]
    # 2 devices at 3 steps/s of 64 examples against 1 device at 4 steps/s of 32: 192 / (2 * 128) = 75%.
    assert lines[5].split("|")[-2].strip() == "75%"
    assert lines[4].split("|")[-2].strip() == "100%"
    assert lines[6].split("|")[-2].strip() == "n/a"  # no 1-device figure for hand


def test_device_environments_virtual_cpus_or_the_first_gpus():
    cpu = environment("jax", 2, gpus=0)
    assert cpu["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2" and cpu["CMVA_BENCHMARK_CPU_DEVICES"] == "2"
    gpu = environment("tensorflow", 2, gpus=8)
    assert gpu["CUDA_VISIBLE_DEVICES"] == "0,1" and "XLA_FLAGS" not in gpu


def test_scaling_refuses_torch():
    with pytest.raises(ValueError, match="jax"):
        run_scaling("torch", ["food"], [1, 2])
