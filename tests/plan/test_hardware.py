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
