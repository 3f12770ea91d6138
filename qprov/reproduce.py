"""Is a result consistent with the circuit it claims to come from?

::

    outcome = check_reproduction(receipt_bundle, circuit_bytes, result_bytes, trust=trust)
    outcome.verdict          # reproduced | mismatch | consistent | inconsistent | inconclusive
    outcome.report.to_html() # measured and baseline distributions side by side

* Simulator results (the receipt records Aer execution details): the executed
  circuit in the receipt bundle is replayed, never re-transpiled, with the
  recorded effective seed, method, options and noise model; identical counts
  are ``reproduced``, different counts ``mismatch``. On another platform or
  library version the replay cannot decide; the check falls back to the
  statistical test and says so.
* Hardware results: a calibrated test (parametric-bootstrap G, two-sample
  permutation, equivalence, or linear cross-entropy past statevector size) at a
  set false-alarm rate ``alpha`` against a signed baseline (role
  ``baseline-authority``), the receipt's calibration snapshot, or the ideal
  distribution of the executed circuit; ``inconclusive`` when the shots could
  not detect the stated effect size.

:func:`verify_reproduction` raises
:class:`~qprov.errors.ReproductionMismatchError` unless the verdict is
``reproduced`` or ``consistent`` (``inconclusive`` allowed on request).
"""

from __future__ import annotations

from qprov._reproduce_impl import (
    REFERENCE_SHOTS,
    Reproduction,
    ReproductionVerdict,
    check_reproduction,
    verify_reproduction,
)

__all__ = [
    "REFERENCE_SHOTS",
    "Reproduction",
    "ReproductionVerdict",
    "check_reproduction",
    "verify_reproduction",
]
