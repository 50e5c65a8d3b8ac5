"""The benchmarks' machine reference (bench/machine.py) must stay the same workload: figures of different
days are compared in proportion to it."""

from __future__ import annotations

from bench import machine


def test_the_reference_workload_is_unchanged() -> None:
    # The workload's own result: any change to what it computes changes this number.
    assert machine._workload() == 918_727


def test_the_reference_is_a_positive_cpu_time_in_the_benchmark_line() -> None:
    ms = machine.reference_ms(repeat=1)
    assert ms > 0
    assert "bench/machine.py" in machine.describe()
