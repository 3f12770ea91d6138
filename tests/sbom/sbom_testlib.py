"""Builders for synthetic wheels and site directories."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(
        b"="
    ).decode()


def metadata_text(name: str, version: str, requires: list[str] = (),  # type: ignore[assignment]
                  extras: list[str] = (), license_expression: str | None = None,  # type: ignore[assignment]
                  classifiers: list[str] = ()) -> str:  # type: ignore[assignment]
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", "Summary: test"]
    if license_expression is not None:
        lines.append(f"License-Expression: {license_expression}")
    lines += [f"Classifier: {c}" for c in classifiers]
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\nlong description\n"


def dist_files(name: str, version: str, *, metadata: str | None = None,
               extra_files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Files of a wheel/installed dist, RECORD included (last)."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files: dict[str, bytes] = {f"{module}/__init__.py": b"x = 1\n"}
    files.update(extra_files or {})
    files[f"{dist_info}/METADATA"] = (metadata or metadata_text(name, version)).encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rows = [f"{path},{record_hash(data)},{len(data)}" for path, data in files.items()]
    rows.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(rows) + "\n").encode()
    return files


def build_wheel(directory: Path, name: str, version: str, **kwargs: object) -> Path:
    files = dist_files(name, version, **kwargs)  # type: ignore[arg-type]
    path = directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def install(site: Path, name: str, version: str, **kwargs: object) -> Path:
    files = dist_files(name, version, **kwargs)  # type: ignore[arg-type]
    for member, data in files.items():
        target = site / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return site / f"{name.replace('-', '_')}-{version}.dist-info"


def make_site(tmp_path: Path) -> Path:
    directory = tmp_path / "site-packages"
    directory.mkdir()
    return directory
