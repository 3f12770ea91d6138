"""Every vector in ../shared/vectors/tlog gives its expected result."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from qprov.errors import MalformedInputError, ProofError
from qprov.tlog import (
    NoteSignatureError,
    NoteSigner,
    ProofBundle,
    UnverifiedNoteError,
    entries_path,
    entries_path_for_index,
    parse_checkpoint,
    parse_skey,
    parse_tile_path,
    parse_vkey,
    tile_path,
    tiles_for_size,
    verify_checkpoint,
    verify_consistency,
    verify_note,
)
from qprov.tlog import _merkle as m

from ._util import load_vector

H = bytes.fromhex
REF = load_vector("rfc6962_reference_tree.json")
PROOFS = load_vector("rfc6962_hardcoded_proofs.json")
PROBES = load_vector("merkle_testdata_probes.json")
NOTES = load_vector("signed_notes.json")["cases"]
VKEYS = load_vector("vkeys.json")["rows"]
TILES = load_vector("tile_paths.json")
TLOG_PROOF = load_vector("tlog_proof_format.json")
WITNESS = load_vector("witness_consistency.json")
LEAVES = [m.leaf_hash(H(x)) for x in REF["leaf_inputs_hex"]]


def _stored_nodes() -> dict[tuple[int, int], bytes]:
    _, _, nodes = m.extend_frontier(0, [], LEAVES)
    store = {(0, i): h for i, h in enumerate(LEAVES)}
    store.update({(lvl, i): h for lvl, i, h in nodes})
    return store


def test_hasher_vectors() -> None:
    hv = REF["hasher_vectors"]
    assert m.EMPTY_ROOT.hex() == hv["empty_root"]
    assert m.leaf_hash(b"").hex() == hv["leaf_hash_of_empty"]
    assert m.leaf_hash(b"L123456").hex() == hv["leaf_hash_of_ascii_L123456"]
    assert m.node_hash(b"N123", b"N456").hex() == hv["node_hash_of_ascii_N123_N456"]


@pytest.mark.parametrize("size", range(len(REF["root_hashes_hex_by_size"])))
def test_reference_roots(size: int) -> None:
    want = REF["root_hashes_hex_by_size"][size]
    assert m.root_of_leaves(LEAVES[:size]).hex() == want
    _, frontier, _ = m.extend_frontier(0, [], LEAVES[:size])
    assert m.root_from_frontier(frontier).hex() == want


def test_reference_node_hashes() -> None:
    store = _stored_nodes()
    for level, row in enumerate(REF["node_hashes_hex_by_level"]):
        for i, want in enumerate(row):
            assert store[(level, i)].hex() == want


@pytest.mark.parametrize(
    "case", PROOFS["inclusion"], ids=lambda c: f"{c['leaf_index']}-{c['tree_size']}"
)
def test_hardcoded_inclusion(case: dict[str, Any]) -> None:
    store = _stored_nodes()
    ranges = m.inclusion_ranges(case["leaf_index"], case["tree_size"])
    proof = [m.range_hash(a, b, store.__getitem__) for a, b in ranges]
    assert [p.hex() for p in proof] == case["proof_hex"]
    root = H(REF["root_hashes_hex_by_size"][case["tree_size"]])
    m.verify_inclusion(
        case["leaf_index"], case["tree_size"], LEAVES[case["leaf_index"]], proof, root
    )


@pytest.mark.parametrize("case", PROOFS["consistency"], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_hardcoded_consistency(case: dict[str, Any]) -> None:
    store = _stored_nodes()
    s1, s2 = case["size1"], case["size2"]
    proof = (
        []
        if s1 == s2
        else [m.range_hash(a, b, store.__getitem__) for a, b in m.consistency_ranges(s1, s2)]
    )
    assert [p.hex() for p in proof] == case["proof_hex"]
    roots = REF["root_hashes_hex_by_size"]
    m.verify_consistency(s1, s2, proof, H(roots[s1]), H(roots[s2]))


def _probe_outcome(kind: str, c: dict[str, Any]) -> bool:
    proof = [H(x) for x in c["proof_hex"]]
    try:
        if kind == "inclusion":
            m.verify_inclusion(
                c["leaf_idx"], c["tree_size"], H(c["leaf_hash_hex"]), proof, H(c["root_hex"])
            )
        elif kind == "consistency":
            m.verify_consistency(
                c["size1"], c["size2"], proof, H(c["root1_hex"]), H(c["root2_hex"])
            )
        elif kind == "subtree_inclusion":
            m.verify_subtree_inclusion(
                c["leaf_idx"], c["start"], c["end"], H(c["leaf_hash_hex"]), proof, H(c["root_hex"])
            )
        else:
            m.verify_subtree_consistency(
                c["start"], c["end"], c["size"], proof, H(c["root1_hex"]), H(c["root2_hex"])
            )
    except ProofError:
        return False
    return True


_ALL_PROBES = [
    (kind, case)
    for kind in ("inclusion", "consistency", "subtree_inclusion", "subtree_consistency")
    for case in PROBES[kind]
]


def test_probe_count() -> None:
    assert len(_ALL_PROBES) == 518


@pytest.mark.parametrize(
    ("kind", "case"), _ALL_PROBES, ids=lambda x: x if isinstance(x, str) else x["file"]
)
def test_probe(kind: str, case: dict[str, Any]) -> None:
    """must_accept probes are accepted, must_reject probes rejected (with ProofError)."""
    assert _probe_outcome(kind, case) is (not case["want_err"]), case["desc"]


@pytest.mark.parametrize("row", VKEYS, ids=lambda r: r["vkey"][:40])
def test_vkeys(row: dict[str, Any]) -> None:
    # Strict C2SP: the key ID must match; expect_strict wins over the lenient Go result.
    expect = row.get("expect_strict", row["expect"])
    if expect == "ok":
        v = parse_vkey(row["vkey"])
        assert v.to_vkey() == row["vkey"]
    else:
        with pytest.raises(MalformedInputError, match="verifier key"):
            parse_vkey(row["vkey"])


def _note_verifiers(case: dict[str, Any]) -> list[Any]:
    if "vkey_from_seed" in case:
        spec = case["vkey_from_seed"]
        return [NoteSigner(spec["name"], spec["type"], H(case["ed25519_seed_hex"])).verifier()]
    return [parse_vkey(v) for v in case.get("vkeys", [])]


@pytest.mark.parametrize("case", NOTES, ids=lambda c: c["name"])
def test_signed_notes(case: dict[str, Any]) -> None:
    data = H(case["note_hex"]) if "note_hex" in case else case["note"].encode("utf-8")
    verifiers = _note_verifiers(case)
    expect = case["expect"]
    if expect == "ok":
        verified = verify_note(data, verifiers)
        assert sorted(v.name for v in verified.verified) == sorted(case["expect_verified"])
        for name in case.get("expect_unverified", []):
            assert name in {s.name for s in verified.unverified}
        if "checkpoint" in case:
            cp = parse_checkpoint(verified.text)
            assert (cp.origin, cp.size) == (
                case["checkpoint"]["origin"],
                case["checkpoint"]["size"],
            )
    elif expect == "malformed":
        with pytest.raises(MalformedInputError):
            verify_note(data, verifiers)
    elif expect == "invalid_signature":
        with pytest.raises(NoteSignatureError, match="does not verify"):
            verify_note(data, verifiers)
    else:
        assert expect == "no_verifiable_signature"
        with pytest.raises(UnverifiedNoteError):
            verify_note(data, verifiers)


def test_tessera_checkpoints_parse() -> None:
    for case in NOTES:
        if case["name"].startswith("tessera testdata checkpoint."):
            cp = verify_checkpoint(case["note"].encode(), case["vkeys"])
            assert cp.size == int(case["name"].rsplit(".", 1)[1])


def test_witness_consistency() -> None:
    old = verify_checkpoint(WITNESS["old_checkpoint"].encode(), [WITNESS["log_vkey"]])
    new = verify_checkpoint(WITNESS["new_checkpoint"].encode(), [WITNESS["log_vkey"]])
    proof = [H(x) for x in WITNESS["consistency_proof_hex"]]
    assert verify_consistency(old, new, proof).size == 8
    signer = parse_skey(WITNESS["witness_skey"])
    assert signer.verifier().to_vkey() == WITNESS["witness_vkey"]
    with pytest.raises(ProofError, match="not consistent"):
        verify_consistency(old, new, proof[:-1])


@pytest.mark.parametrize("case", TILES["tile_path"], ids=lambda c: c["path"])
def test_tile_path(case: dict[str, Any]) -> None:
    assert tile_path(case["level"], case["index"], case["partial_width"]) == case["path"]
    ref = parse_tile_path(case["path"])
    assert (ref.level, ref.index, ref.width) == (
        case["level"],
        case["index"],
        case["partial_width"],
    )


@pytest.mark.parametrize("case", TILES["entries_path"], ids=lambda c: c["path"])
def test_entries_path(case: dict[str, Any]) -> None:
    assert entries_path(case["index"], case["partial_width"]) == case["path"]
    ref = parse_tile_path(case["path"])
    assert (ref.level, ref.index, ref.width) == (None, case["index"], case["partial_width"])


@pytest.mark.parametrize("case", TILES["entries_path_for_log_index"], ids=lambda c: c["path"])
def test_entries_path_for_index(case: dict[str, Any]) -> None:
    assert entries_path_for_index(case["seq"], case["log_size"]) == case["path"]


@pytest.mark.parametrize(
    "case", TILES["parse_level_index"], ids=lambda c: f"{c['level']}/{c['index']}"
)
def test_parse_level_index(case: dict[str, Any]) -> None:
    path = f"tile/{case['level']}/{case['index']}"
    if case["expect"] == "ok":
        ref = parse_tile_path(path)
        assert (ref.level, ref.index, ref.width) == (
            case["want_level"],
            case["want_index"],
            case["want_partial"],
        )
    else:
        with pytest.raises(MalformedInputError):
            parse_tile_path(path)


def test_tile_spec_examples() -> None:
    for ex in TILES["spec_examples"]:
        if "n" in ex:
            assert tile_path(0, ex["n"]) == f"tile/0/{ex['path_element']}"
            continue
        refs = tiles_for_size(ex["tree_size"])
        want = ex["tiles"]
        got: dict[str, int] = {}
        for r in refs:
            if r.width:
                got[f"partial_level{r.level}_width"] = r.width
            else:
                got[f"full_level{r.level}"] = got.get(f"full_level{r.level}", 0) + 1
        assert got == want


@pytest.mark.parametrize("case", TLOG_PROOF["marshal"], ids=lambda c: str(c["index"]))
def test_tlog_proof_marshal(case: dict[str, Any]) -> None:
    extra = None if case["extra_b64"] is None else base64.b64decode(case["extra_b64"])
    bundle = ProofBundle(
        case["index"],
        tuple(base64.b64decode(h) for h in case["hashes_b64"]),
        case["checkpoint"].encode(),
        extra,
    )
    assert bundle.to_bytes() == case["want"].encode()
    assert ProofBundle.from_bytes(case["want"].encode()) == bundle


@pytest.mark.parametrize("text", TLOG_PROOF["unmarshal_errors"])
def test_tlog_proof_unmarshal_errors(text: str) -> None:
    with pytest.raises(MalformedInputError):
        ProofBundle.from_bytes(text.encode())
