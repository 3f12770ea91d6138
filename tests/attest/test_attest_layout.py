"""The release pipeline's in-toto layout, run and verified with in-toto's own API."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from in_toto.exceptions import RuleVerificationError, SignatureVerificationError
from in_toto.models.metadata import Metadata
from in_toto.runlib import in_toto_run
from in_toto.verifylib import in_toto_verify

from qprov.keys import CompositeSigner, generate_private_key

Pipeline = tuple[Path, Path, dict[str, str], CompositeSigner]
_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "release_layout.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_layout", _SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _run_pipeline(d: Path, ci: CompositeSigner, release: CompositeSigner, links: Path) -> None:
    run = {"metadata_directory": str(links), "use_dsse": True}
    in_toto_run(
        "checkout",
        [],
        ["src"],
        _py("import os; os.makedirs('src'); open('src/sdk.py','w').write('X = 1\\n')"),
        signer=ci,
        **run,
    )
    in_toto_run(
        "build",
        ["src"],
        ["dist"],
        _py("import os; os.makedirs('dist'); open('dist/sdk-1.0.whl','wb').write(b'wheel')"),
        signer=ci,
        **run,
    )
    in_toto_run(
        "sbom",
        ["dist"],
        ["sbom.cdx.json"],
        _py("open('sbom.cdx.json','w').write('{}')"),
        signer=ci,
        **run,
    )
    in_toto_run(
        "attest",
        ["dist", "sbom.cdx.json"],
        ["sdk.intoto.jsonl"],
        _py("open('sdk.intoto.jsonl','w').write('{}\\n')"),
        signer=release,
        **run,
    )


@pytest.fixture
def pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, dict[str, str], CompositeSigner]:
    """Sign a layout with the script, run the four steps; (layout, links, owner, CI signer)."""
    script = _load_script()
    owner = generate_private_key("MLDSA65-Ed25519-SHA512")
    ci = CompositeSigner(generate_private_key("MLDSA44-Ed25519-SHA512"))
    release = CompositeSigner(generate_private_key("MLDSA65-Ed25519-SHA512"))
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "owner.key").write_bytes(owner.to_unencrypted_pem())
    (keys / "ci.pub").write_bytes(ci._private.public_key().to_pem())
    (keys / "release.pub").write_bytes(release._private.public_key().to_pem())
    layout_path = tmp_path / "root.layout"
    rc = script.main(
        [
            "sign",
            "--owner-key",
            f"file:{keys / 'owner.key'}",
            "--functionary",
            f"checkout={keys / 'ci.pub'}",
            "--functionary",
            f"build={keys / 'ci.pub'}",
            "--functionary",
            f"sbom={keys / 'ci.pub'}",
            "--functionary",
            f"attest={keys / 'release.pub'}",
            "-o",
            str(layout_path),
        ]
    )
    assert rc == 0
    work = tmp_path / "work"
    work.mkdir()
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.chdir(work)
    _run_pipeline(work, ci, release, links)
    owner_pub = owner.public_key()
    owner_dict = dict(owner_pub.to_sslib_dict(), keyid=owner_pub.keyid)
    (keys / "owner.pub").write_bytes(owner_pub.to_pem())
    return layout_path, links, owner_dict, ci


def test_layout_verifies_with_in_toto(pipeline: Pipeline) -> None:
    layout_path, links, owner, _ = pipeline
    assert len(list(links.glob("*.link"))) == 4
    summary = in_toto_verify(
        Metadata.load(str(layout_path)), {owner["keyid"]: owner}, link_dir_path=str(links)
    )
    assert summary is not None


def test_artifact_changed_between_steps_is_caught(pipeline: Pipeline) -> None:
    layout_path, links, owner, ci = pipeline
    # build is re-recorded (by its own functionary) with a wheel other than the one
    # the sbom step consumed: the sbom step's MATCH rule must fail
    next(links.glob("build.*.link")).unlink()
    Path("dist/sdk-1.0.whl").write_bytes(b"evil wheel")
    in_toto_run(
        "build",
        ["src"],
        ["dist"],
        _py("pass"),
        signer=ci,
        metadata_directory=str(links),
        use_dsse=True,
    )
    with pytest.raises(RuleVerificationError, match=r"dist/sdk-1\.0\.whl"):
        in_toto_verify(
            Metadata.load(str(layout_path)), {owner["keyid"]: owner}, link_dir_path=str(links)
        )


def test_layout_signed_by_another_owner_is_rejected(
    pipeline: Pipeline,
) -> None:
    layout_path, links, _, _ = pipeline
    stranger = generate_private_key("MLDSA65-Ed25519-SHA512").public_key()
    stranger_dict = dict(stranger.to_sslib_dict(), keyid=stranger.keyid)
    with pytest.raises(SignatureVerificationError):
        in_toto_verify(
            Metadata.load(str(layout_path)),
            {stranger.keyid: stranger_dict},
            link_dir_path=str(links),
        )


def test_script_verify_command(
    pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout_path, links, _, _ = pipeline
    script = _load_script()
    args = ["verify", "--layout", str(layout_path), "--link-dir", str(links)]
    assert script.main([*args, "--owner-pub", str(tmp_path / "keys" / "owner.pub")]) == 0
    assert capsys.readouterr().err.startswith(f"OK: {layout_path}: supply chain verified")
    (tmp_path / "stranger.pub").write_bytes(
        generate_private_key("MLDSA65-Ed25519-SHA512").public_key().to_pem()
    )
    assert script.main([*args, "--owner-pub", str(tmp_path / "stranger.pub")]) == 1
    assert capsys.readouterr().err.startswith(f"FAIL: {layout_path}: SignatureVerificationError")
