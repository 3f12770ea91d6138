"""Report: JSON-serialisable, self-contained HTML with an inline SVG, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit

from qprov.errors import EnvironmentProblemError
from qprov.repro import (
    ReproReport,
    chart_series,
    circuit_digest,
    exact_distribution,
    goodness_of_fit,
    simulate,
    verify_replay,
)


def make_report(circuit: QuantumCircuit) -> ReproReport:
    res = simulate(circuit, shots=1000, seed=21)
    dist = exact_distribution(circuit)
    test = goodness_of_fit(res.counts, dist, rng=np.random.default_rng(0))
    replay = verify_replay(circuit, res.details, res.counts)
    return ReproReport(
        subject={"circuit": circuit_digest(circuit), "label": "<script>x</script>"},
        verdict=test.verdict, decided_by=test.method, test=test, replay=replay,
        charts=[("measured vs ideal", chart_series(res.counts, dist))],
        notes=["seeded replay reproduced the counts"],
    )


def test_report_json_and_html(skewed3: QuantumCircuit, tmp_path: Path) -> None:
    report = make_report(skewed3)
    doc = json.loads(report.to_json())
    json.dumps(doc, allow_nan=False)
    assert doc["version"] == "qprov-repro-report/v1"
    assert doc["replay"]["status"] == "reproduced"
    assert len(doc["charts"][0]["bars"]) == 8
    html = report.to_html()
    assert "<svg" in html
    assert html.count("<rect") >= 16  # two bars per outcome
    assert "<script>" not in html  # escaped
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    out = tmp_path / "report.html"
    report.write_html(out)
    report.write_json(tmp_path / "report.json")
    assert out.read_text(encoding="utf-8") == html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]


def test_unwritable_target_is_an_environment_error(skewed3: QuantumCircuit,
                                                   tmp_path: Path) -> None:
    report = make_report(skewed3)
    with pytest.raises(EnvironmentProblemError, match="cannot write"):
        report.write_html(tmp_path / "missing-dir" / "r.html")


def test_chart_has_other_bin_for_wide_distributions() -> None:
    qc = QuantumCircuit(6, 6)
    qc.h(range(6))
    qc.measure(range(6), range(6))
    res = simulate(qc, shots=500, seed=1)
    rows = chart_series(res.counts, exact_distribution(qc), bars=10)
    assert len(rows) == 11
    assert rows[-1][0] == "other"


def test_import_qprov_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, qprov, qprov.errors, qprov._canon\n"
        "heavy = [m for m in ('qiskit', 'qiskit_aer', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
