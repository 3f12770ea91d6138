"""Hostile and broken inputs: each one a clear MalformedInputError, never a crash."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sbom_testlib import build_wheel, dist_files, install, metadata_text

from qprov._cli import cli
from qprov.errors import MalformedInputError
from qprov.sbom import ArchiveLimits, build_sbom, scan_directories, scan_files


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_corrupt_wheel(tmp_path: Path) -> None:
    good = build_wheel(tmp_path, "demo", "1.0")
    data = bytearray(good.read_bytes())
    data[len(data) // 3: len(data) // 3 + 64] = b"\xff" * 64  # corrupt a member's bytes
    good.write_bytes(bytes(data))
    with pytest.raises(MalformedInputError, match=r"demo-1\.0-py3-none-any\.whl"):
        scan_files([good])
    junk = tmp_path / "junk-1.0-py3-none-any.whl"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(MalformedInputError, match=r"not a readable zip"):
        scan_files([junk])


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    files = dist_files("bomb", "1.0", extra_files={"bomb/zeros.bin": b"\0" * (24 * 1024 * 1024)})
    path = _zip(tmp_path / "bomb-1.0-py3-none-any.whl", files)
    assert path.stat().st_size < 200_000
    with pytest.raises(MalformedInputError, match=r"compression ratio above 200"):
        scan_files([path])


def test_zip_bomb_total_and_member_caps(tmp_path: Path) -> None:
    files = dist_files("big", "1.0", extra_files={"big/a.bin": b"a" * 5000,
                                                  "big/b.bin": b"b" * 5000})
    path = _zip(tmp_path / "big-1.0-py3-none-any.whl", files)
    with pytest.raises(MalformedInputError, match=r"member 'big/a.bin' decompresses past 4096"):
        scan_files([path], limits=ArchiveLimits(max_member_bytes=4096))
    with pytest.raises(MalformedInputError, match=r"archive decompresses past 8000"):
        scan_files([path], limits=ArchiveLimits(max_total_bytes=8000))


@pytest.mark.parametrize(
    ("member", "message"),
    [("../evil.py", "escapes the archive"), ("demo/../../evil.py", "escapes the archive"),
     ("/etc/evil.py", "absolute path"), ("C:/evil.py", "absolute path"),
     ("demo\\evil.py", "backslash")],
)
def test_unsafe_member_names(tmp_path: Path, member: str, message: str) -> None:
    files = dist_files("demo", "1.0")
    files[member] = b"x"
    path = _zip(tmp_path / "demo-1.0-py3-none-any.whl", files)
    with pytest.raises(MalformedInputError, match=message):
        scan_files([path])


def test_symlink_member(tmp_path: Path) -> None:
    path = _zip(tmp_path / "demo-1.0-py3-none-any.whl", dist_files("demo", "1.0"),
                symlink="demo/link")
    with pytest.raises(MalformedInputError, match="'demo/link' is a symlink"):
        scan_files([path])


def test_missing_metadata(tmp_path: Path) -> None:
    files = dist_files("demo", "1.0")
    del files["demo-1.0.dist-info/METADATA"]
    path = _zip(tmp_path / "demo-1.0-py3-none-any.whl", files)
    with pytest.raises(MalformedInputError, match=r"missing demo-1.0.dist-info/METADATA"):
        scan_files([path])


def test_record_mismatch_in_wheel(tmp_path: Path) -> None:
    files = dist_files("demo", "1.0")
    files["demo/__init__.py"] = b"tampered = True\n"
    path = _zip(tmp_path / "demo-1.0-py3-none-any.whl", files)
    with pytest.raises(MalformedInputError, match=r"demo/__init__.py does not match its RECORD"):
        scan_files([path])


def test_every_bad_file_is_reported(tmp_path: Path) -> None:
    one = tmp_path / "one-1.0-py3-none-any.whl"
    one.write_bytes(b"junk")
    two = tmp_path / "two-1.0-py3-none-any.whl"
    two.write_bytes(b"junk")
    with pytest.raises(MalformedInputError, match=r"one-1.0.*two-1.0"):
        scan_files([one, two])


def test_invalid_license_expression_reported_in_sbom(tmp_path: Path) -> None:
    meta = metadata_text("demo", "1.0", license_expression="GPL-2.0+ OR FooBar-9 WITH")
    path = build_wheel(tmp_path, "demo", "1.0", metadata=meta)
    document = json.loads(build_sbom(scan_files([path]), algorithms=[]))
    component = document["components"][0]
    assert component["licenses"] == [{"license": {"name": "GPL-2.0+ OR FooBar-9 WITH"}}]
    props = {p["name"]: p["value"] for p in component["properties"]}
    assert props["qprov:license:invalid-expression"] == "GPL-2.0+ OR FooBar-9 WITH"


def test_broken_dist_info(site: Path) -> None:
    install(site, "good", "1.0")
    broken = install(site, "broken", "2.0")
    (broken / "RECORD").write_text("broken/__init__.py,sha256=nothex!,5\n")
    nometa = install(site, "nometa", "3.0")
    (nometa / "METADATA").unlink()
    with pytest.raises(MalformedInputError, match=r"2 broken.*broken-2.0.dist-info/RECORD: "
                       r"RECORD line 1.*nometa-3.0.dist-info: no METADATA"):
        scan_directories([site])
    inventory = scan_directories([site], on_error="skip")
    assert [p.metadata.name for p in inventory.packages] == ["good"]


def test_cli_bad_wheel_exit_code(tmp_path: Path) -> None:
    junk = tmp_path / "junk-1.0-py3-none-any.whl"
    junk.write_bytes(b"junk")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["sbom", "wheel", str(junk), "-o", str(out)])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "FAIL: junk-1.0-py3-none-any.whl: not a readable zip" in result.stderr
    assert not out.exists()
