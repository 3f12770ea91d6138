"""The user guides work when pasted: every ```sh block of each guide, in order, in bash.

Each guide runs in an empty temporary directory under ``set -euo pipefail`` with
``QPROV_KEY_PASSPHRASE`` set and no other ``QPROV_*`` variable; services bind to
loopback only and the guide itself stops what it starts (a ``trap``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDES = ["guide-release-engineer.md", "guide-gateway-operator.md", "guide-researcher.md"]
_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def sh_blocks(guide: str) -> list[str]:
    return _BLOCK.findall((REPO / "docs" / guide).read_text(encoding="utf-8"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QPROV_", "GITHUB_"))}
    env["QPROV_KEY_PASSPHRASE"] = "guide test passphrase"
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["PYTHON"] = sys.executable
    return env


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_has_runnable_blocks(guide: str) -> None:
    assert len(sh_blocks(guide)) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("guide", GUIDES)
def test_guide_runs_when_pasted(guide: str, tmp_path: Path) -> None:
    assert shutil.which("bash")
    script = "set -euo pipefail\n" + "\n".join(sh_blocks(guide))
    (tmp_path / "guide.sh").write_text(script, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        ["bash", str(tmp_path / "guide.sh")],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{guide} failed ({proc.returncode}):\n--- stdout\n{proc.stdout[-3000:]}\n"
        f"--- stderr\n{proc.stderr[-5000:]}"
    )
