"""eBPF for Todo Stack: the service's own USDT probes and bpftrace scripts that ask a live worker questions.

* ``probes``: the USDT provider ``todostack`` (a tiny C library with ``sys/sdt.h`` probes, called
  through ctypes; no-ops when it is missing), fired by the service at a few places;
* ``scripts/*.bt``: one bpftrace script per question, each taking the worker's pid;
* ``trace``: the ``todostack trace`` command that runs them (mounting tracefs when needed).

This package imports nothing of the project: every layer may fire a probe.
"""
