"""securesystemslib and in-toto verify composite signatures through their own APIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from in_toto.exceptions import SignatureVerificationError, ThresholdVerificationError
from in_toto.models.layout import Layout, Step
from in_toto.models.metadata import Envelope as InTotoEnvelope
from in_toto.models.metadata import Metadata
from in_toto.runlib import in_toto_run
from in_toto.verifylib import in_toto_verify
from securesystemslib.dsse import Envelope as SSlibEnvelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import Key

from qprov.dsse import parse_envelope, sign_envelope, verify_envelope
from qprov.keys import CompositeKey, CompositeSigner
from qprov.trust import load_trust

from ._helpers import session_key, write_trust

# in-toto's artifact rules use a pathspec API that pathspec now deprecates
pytestmark = pytest.mark.filterwarnings("ignore:GitWildMatchPattern:DeprecationWarning")


@pytest.fixture(scope="module")
def root() -> CompositeSigner:
    return CompositeSigner(session_key("MLDSA65-Ed25519-SHA512", 0))


@pytest.fixture(scope="module")
def functionary() -> CompositeSigner:
    return CompositeSigner(session_key("MLDSA87-ECDSA-P384-SHA512", 0))


def _key_dict(signer: CompositeSigner) -> dict[str, Any]:
    return dict(signer.public_key.to_dict(), keyid=signer.public_key.keyid)


def test_sslib_dsse_round_trip(root: CompositeSigner) -> None:
    env = SSlibEnvelope(b"payload bytes", "application/x.test", {})
    env.sign(root)
    # a Key rebuilt from its dict goes through securesystemslib's dispatch table
    key = Key.from_dict(root.public_key.keyid, root.public_key.to_dict())
    assert isinstance(key, CompositeKey)
    assert env.verify([key], 1) == {key.keyid: key}
    # tampered payload
    bad = SSlibEnvelope(b"payload bytez", "application/x.test", dict(env.signatures))
    with pytest.raises(VerificationError, match="Accepted signatures do not match threshold"):
        bad.verify([key], 1)


def test_sslib_and_qprov_envelopes_interoperate(root: CompositeSigner, tmp_path: Path) -> None:
    trust = load_trust(write_trust(tmp_path, {"r": [session_key("MLDSA65-Ed25519-SHA512", 0)]}))
    # securesystemslib signs, qprov verifies
    env = SSlibEnvelope(b"from sslib", "application/x.test", {})
    env.sign(root)
    data = json.dumps(env.to_dict()).encode()
    assert verify_envelope(parse_envelope(data), trust, "r").payload == b"from sslib"
    # qprov signs, securesystemslib verifies
    ours = sign_envelope(b"from qprov", "application/x.test", [root])
    theirs = SSlibEnvelope.from_dict(json.loads(ours.to_json()))
    assert theirs.verify([root.public_key], 1)
    assert theirs.payload == b"from qprov"


def _write_supply_chain(
    directory: Path, root: CompositeSigner, functionary: CompositeSigner
) -> InTotoEnvelope:
    (directory / "foo.py").write_text("print('hello from a quantum SDK')\n")
    layout = Layout(expires="2099-01-01T00:00:00Z")
    layout.add_functionary_key(_key_dict(functionary))
    step = Step(name="write-code")
    step.pubkeys = [functionary.public_key.keyid]
    step.add_product_rule_from_string("CREATE foo.py")
    step.add_product_rule_from_string("DISALLOW *")
    layout.steps = [step]
    layout.validate()
    metadata = InTotoEnvelope.from_signable(layout)
    metadata.create_signature(root)
    metadata.dump(str(directory / "root.layout"))
    in_toto_run(
        "write-code",
        [],
        ["foo.py"],
        [],
        signer=functionary,
        use_dsse=True,
        metadata_directory=str(directory),
    )
    return metadata


def test_intoto_layout_signed_with_composite_root_key_verifies(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    root: CompositeSigner,
    functionary: CompositeSigner,
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_supply_chain(tmp_path, root, functionary)
    link_name = f"write-code.{functionary.public_key.keyid[:8]}.link"
    assert (tmp_path / link_name).is_file()
    layout = Metadata.load(str(tmp_path / "root.layout"))
    summary = in_toto_verify(
        layout, {root.public_key.keyid: _key_dict(root)}, link_dir_path=str(tmp_path)
    )
    assert "foo.py" in summary.products
    # the link is a DSSE envelope qprov itself parses and verifies
    trust = load_trust(
        write_trust(tmp_path, {"functionary": [session_key("MLDSA87-ECDSA-P384-SHA512", 0)]})
    )
    verified = verify_envelope((tmp_path / link_name).read_bytes(), trust, "functionary")
    assert json.loads(verified.payload)["name"] == "write-code"


def test_intoto_tampered_layout_fails(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    root: CompositeSigner,
    functionary: CompositeSigner,
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_supply_chain(tmp_path, root, functionary)
    doc = json.loads((tmp_path / "root.layout").read_text())
    env = SSlibEnvelope.from_dict(dict(doc))
    body = json.loads(env.payload)
    body["steps"][0]["expected_products"] = [["ALLOW", "*"]]  # loosen the rules
    env.payload = json.dumps(body, sort_keys=True).encode()
    (tmp_path / "root.layout").write_text(json.dumps(env.to_dict()))
    layout = Metadata.load(str(tmp_path / "root.layout"))
    with pytest.raises(SignatureVerificationError):
        in_toto_verify(layout, {root.public_key.keyid: _key_dict(root)}, link_dir_path=".")


def test_intoto_wrong_root_key_and_tampered_link_fail(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    root: CompositeSigner,
    functionary: CompositeSigner,
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_supply_chain(tmp_path, root, functionary)
    layout = Metadata.load(str(tmp_path / "root.layout"))
    # a different composite key presented as the root key
    impostor = _key_dict(root)
    impostor["keyval"] = CompositeSigner(session_key("MLDSA65-Ed25519-SHA512", 5)).public_key.keyval
    with pytest.raises(SignatureVerificationError):
        in_toto_verify(layout, {root.public_key.keyid: impostor}, link_dir_path=".")
    # a link whose recorded products were changed after signing is not counted
    link = tmp_path / f"write-code.{functionary.public_key.keyid[:8]}.link"
    env = SSlibEnvelope.from_dict(json.loads(link.read_text()))
    body = json.loads(env.payload)
    body["products"]["evil.py"] = {"sha256": "00" * 32}
    env.payload = json.dumps(body, sort_keys=True).encode()
    link.write_text(json.dumps(env.to_dict()))
    with pytest.raises(ThresholdVerificationError):
        in_toto_verify(layout, {root.public_key.keyid: _key_dict(root)}, link_dir_path=".")
