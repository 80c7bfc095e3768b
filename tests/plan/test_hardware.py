"""The machine as the plan sees it: memory that cannot be read is unknown, never 0 GiB."""

import os
import subprocess

from tunesmith.plan import hardware


def test_memory_is_read_or_unknown(monkeypatch):
    assert hardware._total_memory_gb() > 0  # Linux: sysconf

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", no_sysconf)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="17179869184\n"))
    assert hardware._total_memory_gb() == 16.0  # macOS: sysctl hw.memsize

    def no_sysctl(*args, **kwargs):
        raise FileNotFoundError("sysctl")

    monkeypatch.setattr(subprocess, "run", no_sysctl)
    assert hardware._total_memory_gb() is None


def test_the_device_is_cuda_then_apple_mps_then_the_cpu_with_the_precision_each_trains_in(monkeypatch):
    import torch

    measured = []
    monkeypatch.setattr(hardware, "_matmul_gflops", lambda dtype, device: measured.append((dtype, device)) or 1e4)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    mps = hardware.detect_hardware.__wrapped__()
    assert (mps.device, mps.bf16, measured[-1]) == ("mps", False, (torch.float32, "mps"))
    assert mps.memory_gb and mps.memory_gb > 0  # unified memory: the machine's

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    cpu = hardware.detect_hardware.__wrapped__()
    assert cpu.device == "cpu" and measured[-1][1] == "cpu"
    assert measured[-1][0] == (torch.bfloat16 if cpu.bf16 else torch.float32)
