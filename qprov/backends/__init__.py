"""Backends that run admitted jobs: the interface and a built-in local backend on qiskit-aer.

:class:`AerBackend` loads the circuit from the exact bytes admitted, transpiles
it once for ``AerSimulator`` with a fixed seed, runs that executed circuit with
:func:`qprov.repro.simulate` (recording the effective seed and everything a
replay needs) and returns the canonical counts, the executed circuit as QPY and
the execution details. qiskit and Aer are imported only when a job runs.
"""

from __future__ import annotations

from qprov.backends._base import Backend, Execution, Job
from qprov.backends.aer import AER_OPTIONS, AerBackend, derive_seed

__all__ = ["AER_OPTIONS", "AerBackend", "Backend", "Execution", "Job", "derive_seed"]
