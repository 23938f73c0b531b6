"""Benchmarks for pulumi-fwcluster: `make bench` (``python -m bench``).

They drive the real ``python -m pulumi.dynamic`` server (and, for the two-door comparison, the native plugin
``pulumi-resource-fireworks``) through :mod:`pulumi_fwcluster.testing.engine` against the Fireworks emulator
and an in-process moto server whose calls are counted, print one table of figures against their targets, and write
it with the machine's details to ``bench/RESULTS.md``.
These are measurements, not tests: the smoke test in ``tests/bench`` checks behaviour (request counts) only.
"""
