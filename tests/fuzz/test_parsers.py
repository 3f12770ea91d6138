"""Parser fuzzing (bounded): every parser that takes outside input, on mutated real documents.

Property, for each target in ``_targets.TARGETS``: any input gives either a valid
object or a :class:`qprov.errors.Error`; never another exception, never a hang
(a timer is armed around every call), and never unbounded memory (inputs are
cut at ``MAX_INPUT`` and the process's peak RSS may not grow by more than
``MAX_RSS_GROWTH`` during a target's run).

Inputs start from real documents (``_corpus.build_corpus``: the demo's signed
manifest, receipt and decision bundles, trust and policy files, circuits,
wheels, Sigstore bundles...) and are mutated at three levels: bytes (flip,
insert, delete, truncate, splice), JSON structure (any value replaced, removed
or given an unknown sibling; DSSE payloads are decoded, mutated and re-encoded
so the predicate parsers behind the envelope are reached) and TOML lines.
Plain random bytes are mixed in.

Parsers whose property test already lives elsewhere (docs/fuzzing.md lists
where) run here with a few seeded examples only; the gaps run with more.
The long campaign is scripts/fuzz/fuzz_parsers.py (atheris).
"""

from __future__ import annotations

import base64
import io
import json
import re
import resource
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qprov.errors import Error, MalformedInputError

from ._corpus import _wheel
from ._targets import TARGETS, Context, run_target

REPO = Path(__file__).resolve().parents[2]

# Targets whose property test lives in another module (docs/fuzzing.md); here they
# get a short seeded run on top.
COVERED_ELSEWHERE = frozenset(
    {
        "dsse-envelope", "statement", "manifest-bundle", "manifest-predicate",
        "receipt-envelope", "receipt-predicate", "receipt-bundle", "trust", "circuit",
        "counts", "note", "checkpoint", "checkpoint-verify", "proof-bundle", "hash-lines",
        "vkey", "public-key", "private-key", "record", "metadata", "provenance",
        "baseline-predicate",
    }
)
# Slow per input (scrypt key derivation, qiskit, zip + SBOM, X.509 chains).
SLOW = frozenset(
    {"private-key", "signer-env", "wheel", "sigstore-bundle", "sigstore-trusted-root",
     "circuit", "circuit-openqasm3", "decision-envelope"}
)
MAX_RSS_GROWTH_KIB = 512 * 1024


def _examples(name: str) -> int:
    if name in COVERED_ELSEWHERE:
        return 15 if name in SLOW else 30
    return 40 if name in SLOW else 120


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    return Context(tmp_path_factory.mktemp("fuzz"))


# -- mutations ------------------------------------------------------------------------

_json_leaf = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["", "x" * 300, "sha256", "1" * 64, "\u0000"])
)
_json_values = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate_json(draw: st.DrawFn, doc: Any, depth: int = 0) -> Any:
    paths = _paths(doc)
    path = draw(st.sampled_from(paths))
    if not path:
        return draw(_json_values)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    child = parent[last]
    op = draw(st.sampled_from(["replace", "delete", "sibling", "payload"]))
    if op == "payload" and isinstance(child, str) and depth < 2 and len(child) > 16:
        # a base64 payload (DSSE) or embedded document: decode, mutate inside, re-encode
        try:
            inner = json.loads(base64.b64decode(child, validate=True))
        except (ValueError, UnicodeDecodeError):
            op = "replace"
        else:
            parent[last] = base64.b64encode(
                json.dumps(_mutate_json(draw, inner, depth + 1)).encode()
            ).decode()
            return doc
    if op == "delete" and isinstance(parent, dict):
        del parent[last]
    elif op == "delete" and isinstance(parent, list):
        parent.pop(last)
    elif op == "sibling" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=8))] = draw(_json_values)
    elif op == "sibling" and isinstance(parent, list):
        parent.append(draw(_json_values) if not parent else parent[0])
    else:
        parent[last] = draw(_json_values)
    return doc


def _mutate_bytes(draw: st.DrawFn, data: bytes, seeds: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice", "dup"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            buf[pos:pos] = draw(
                st.binary(min_size=1, max_size=8)
                | st.sampled_from([b"\n", b"\"", b"{", b"]", b"\x00", b"\xff", b"9" * 30])
            )
        elif op == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del buf[pos:]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, max(len(other) - 1, 0)))
            buf[pos:] = other[start : start + draw(st.integers(1, 64))]
        elif op == "dup" and buf:
            end = min(len(buf), pos + draw(st.integers(1, 64)))
            buf[pos:pos] = buf[pos:end]
    return bytes(buf)


_TOML_VALUES = ["0", "-1", "1e400", "true", '""', '"x"', "[]", "[1, \"a\"]", "{}",
                "{ a = 1 }", '"../../etc/passwd"', "99999999999999999999", '"*"', "nan"]


def _mutate_toml(draw: st.DrawFn, data: bytes) -> bytes:
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    op = draw(st.sampled_from(["value", "delete", "dup", "key", "table"]))
    line = lines[i]
    if op == "value" and "=" in line:
        key = line.split("=", 1)[0]
        lines[i] = f"{key}= {draw(st.sampled_from(_TOML_VALUES))}"
    elif op == "delete":
        del lines[i]
    elif op == "dup":
        lines.insert(i, line)
    elif op == "key":
        lines.insert(i, f"{draw(st.from_regex(r'[a-z_]{1,8}', fullmatch=True))} = "
                        f"{draw(st.sampled_from(_TOML_VALUES))}")
    else:
        lines.insert(i, f"[{draw(st.sampled_from(['roles.x', 'backends.b', 'log', 'sdk', 'x']))}]")
    return ("\n".join(lines) + "\n").encode()


@st.composite
def _input(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    if not seeds:
        return draw(st.binary(max_size=512))
    kind = draw(st.sampled_from(["seed", "bytes", "json", "json", "toml", "random"]))
    seed = draw(st.sampled_from(seeds))
    if kind == "seed":
        return seed
    if kind == "random":
        return draw(st.binary(max_size=512))
    if kind == "json":
        try:
            doc = json.loads(seed)
        except (ValueError, UnicodeDecodeError):
            lines = seed.splitlines()
            if len(lines) > 1:  # JSON lines: mutate one line
                i = draw(st.integers(0, len(lines) - 1))
                try:
                    lines[i] = json.dumps(_mutate_json(draw, json.loads(lines[i]))).encode()
                except (ValueError, UnicodeDecodeError):
                    return _mutate_bytes(draw, seed, seeds)
                return b"\n".join(lines)
            return _mutate_bytes(draw, seed, seeds)
        return json.dumps(_mutate_json(draw, doc)).encode()
    if kind == "toml" and b"=" in seed[:4096] and not seed.lstrip().startswith(b"{"):
        return _mutate_toml(draw, seed)
    return _mutate_bytes(draw, seed, seeds)


# -- the property -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_gives_object_or_qprov_error(ctx: Context, name: str) -> None:
    target = TARGETS[name]
    seeds = ctx.seeds(target.seeds)
    if name == "sigstore-bundle" and not seeds:
        pytest.skip("the shared Sigstore vectors are not present")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @settings(
        max_examples=_examples(name),
        deadline=None,  # the per-call timer (target.timeout) is the hang guard
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )
    @given(data=_input(seeds))
    def run(data: bytes) -> None:
        run_target(target, ctx, data)  # raises ForeignException / ParserHang on failure

    run()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < MAX_RSS_GROWTH_KIB, f"{name}: peak RSS grew by {grown} KiB"


def test_every_seed_kind_is_present(ctx: Context) -> None:
    """The corpus builder gives every target at least one seed (the vectors aside)."""
    optional = {"sigstore-bundle"}
    missing = [n for n, t in TARGETS.items() if not ctx.seeds(t.seeds) and n not in optional]
    assert not missing


def test_real_documents_parse(ctx: Context) -> None:
    """The unmutated seeds of the qprov formats parse: the fuzzers start from valid input."""
    for name in ("manifest-bundle-full", "grant", "grant-revocations", "decision-envelope",
                 "receipt-bundle-proof", "baseline-envelope", "admission-policy",
                 "gateway-config", "release-policy", "circuit-openqasm3", "executed-qpy",
                 "calibration", "monitor-state", "wheel", "sdist", "pip-report", "pylock",
                 "requirements", "attestation-bundle", "sdk-attestation"):
        target = TARGETS[name]
        for seed in ctx.seeds(target.seeds):
            assert run_target(target, ctx, seed) is not None, name


# -- regressions: inputs the fuzzers found ----------------------------------------------


def _corrupt_deflate_wheel() -> bytes:
    """A wheel whose first member's deflate stream is invalid (zlib.error, not BadZipFile)."""
    good = _wheel("qsdk", "1.0.0")
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        info = zf.infolist()[0]
    offset = info.header_offset
    name_len = int.from_bytes(good[offset + 26 : offset + 28], "little")
    extra_len = int.from_bytes(good[offset + 28 : offset + 30], "little")
    start = offset + 30 + name_len + extra_len
    return good[:start] + b"\xff" * info.compress_size + good[start + info.compress_size :]


def test_regression_wheel_with_corrupt_deflate_stream(tmp_path: Path) -> None:
    from qprov.sbom import scan_files

    path = tmp_path / "qsdk-1.0.0-py3-none-any.whl"
    path.write_bytes(_corrupt_deflate_wheel())
    with pytest.raises(MalformedInputError, match="is corrupt"):
        scan_files([path])


def test_regression_wheel_needing_a_newer_zip_version(tmp_path: Path) -> None:
    """Found by atheris: zipfile raises NotImplementedError for "version needed" > 6.3."""
    import io
    import zipfile

    from qprov.sbom import scan_files

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("qsdk/__init__.py", "")
    data = bytearray(buf.getvalue())
    central = data.find(b"PK\x01\x02")
    data[central + 6] = 96  # version needed to extract: 9.6
    path = tmp_path / "qsdk-1.0.0-py3-none-any.whl"
    path.write_bytes(bytes(data))
    with pytest.raises(MalformedInputError, match=r"not a readable zip archive: zip file version"):
        scan_files([path])


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        # the crash the fuzzer found: a list where pip writes a string
        ("report.json", b'{"install": [{"metadata": {"name": "a", "version": "1", '
                        b'"license_expression": []}}]}'),
        ("report.json", b'{"install": [{"metadata": {"name": "a", "version": "1", '
                        b'"requires_dist": 5}}]}'),
        ("report.json", b'{"install": [{"metadata": {"name": "a", "version": "1"}, '
                        b'"requested_extras": 3}]}'),
        ("pylock.toml", b'[[packages]]\nname = "a"\ndependencies = 1\n'),
        ("pylock.toml", b'[[packages]]\nname = "a"\n[[packages.wheels]]\n'
                        b'name = "a-1-py3-none-any.whl"\nhashes = [1]\n'),
        ("pyproject.toml", b'[project]\nname = "a"\nclassifiers = 1\n'),
    ],
)
def test_regression_project_inputs_of_the_wrong_type(
    tmp_path: Path, filename: str, content: bytes
) -> None:
    from qprov.sbom import scan_project

    (tmp_path / filename).write_bytes(content)
    if filename == "pyproject.toml":
        (tmp_path / "requirements.txt").write_bytes(b"numpy==2.0.0\n")
    report = tmp_path / filename if filename == "report.json" else None
    with pytest.raises(MalformedInputError, match="wrong type"):
        scan_project(tmp_path, report=report)


def test_regression_nul_byte_in_a_requirement_marker(tmp_path: Path) -> None:
    """packaging raises SyntaxError (not InvalidRequirement) for a NUL in a marker string."""
    from qprov.sbom import parse_metadata, scan_project

    (tmp_path / "requirements.txt").write_bytes(b'numpy==2.0.0; python_version == "\x00"\n')
    with pytest.raises(MalformedInputError, match="line 1"):
        scan_project(tmp_path)
    meta = parse_metadata(
        b'Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b; os_name == "\x00"\n',
        origin="a/METADATA",
    )
    assert meta.invalid_requirements == ('b; os_name == "\x00"',)


# -- the inventory in docs/fuzzing.md matches the code ------------------------------------


def test_fuzzing_inventory_lists_every_target() -> None:
    text = (REPO / "docs" / "fuzzing.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE))
    assert listed == set(TARGETS), (set(TARGETS) - listed, listed - set(TARGETS))
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)", text):
        source = (REPO / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, flags=re.MULTILINE), f"{path}::{name}"


def test_qprov_error_is_the_only_allowed_exception() -> None:
    """The harness itself: a foreign exception is reported, a qprov error is not."""
    from ._targets import ForeignException, Target

    def bad(_c: Context, _d: bytes) -> object:
        raise KeyError("x")

    def good(_c: Context, _d: bytes) -> object:
        raise Error("fine")

    with pytest.raises(ForeignException, match="KeyError"):
        run_target(Target("bad", "bad", bad, ()), Context.__new__(Context), b"")
    assert run_target(Target("good", "good", good, ()), Context.__new__(Context), b"") is None
