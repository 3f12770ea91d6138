"""RFC 9162 Merkle tree hashing and proofs: the raw layer (hazmat).

Nothing here knows about signatures, storage or trust. Callers outside
:mod:`qprov.tlog` should use :class:`qprov.tlog.Log` and the bundle/checkpoint
verifiers instead; this module is private so that a proof can never be
"verified" without also checking the checkpoint signature that binds the root.

Conventions:

* leaf hash = SHA-256(0x00 || data); node hash = SHA-256(0x01 || left || right);
  the empty tree's root is SHA-256("").
* A node ``(level, index)`` is the root of the complete subtree over leaves
  ``[index << level, (index + 1) << level)``; level 0 nodes are leaf hashes.
* Proofs are lists of 32-byte hashes, bottom-up, exactly as RFC 9162
  section 2.1.3 (inclusion) and 2.1.4 (consistency) define them.

Decisions on the cases RFC 9162 leaves open (see docs/adr/0005):

* Inclusion in a tree of size 0 does not exist: generating or verifying one
  fails.
* A consistency proof *from* size 0 is refused by the raw verifier (as in
  transparency-dev/merkle): every tree is consistent with the empty tree, so
  such a proof proves nothing and is almost always a caller bug. The
  checkpoint-level verifier handles size 0 explicitly (empty proof, empty root).
* Between equal sizes the proof is empty and the two roots must be equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from qprov.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "NodeId",
    "consistency_ranges",
    "extend_frontier",
    "frontier_levels",
    "inclusion_ranges",
    "is_valid_subtree",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "range_nodes",
    "root_from_frontier",
    "root_of_leaves",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: (level, index) of a complete subtree.
NodeId = tuple[int, int]

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves (reference implementation, O(n) memory)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []
    for i, h in enumerate(leaf_hashes):
        level, cur = 0, h
        while (i >> level) & 1:
            cur = node_hash(stack.pop()[1], cur)
            level += 1
        stack.append((level, cur))
    return root_from_frontier([h for _, h in stack])


# -- compact range (frontier) ---------------------------------------------------


def frontier_levels(size: int) -> list[int]:
    """Levels of the complete subtrees covering [0, size), left to right."""
    return [lvl for lvl in range(size.bit_length() - 1, -1, -1) if (size >> lvl) & 1]


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """Root of a tree given its frontier (largest subtree first)."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for h in reversed(frontier[:-1]):
        root = node_hash(h, root)
    return root


def extend_frontier(
    size: int, frontier: Sequence[bytes], leaf_hashes: Iterable[bytes]
) -> tuple[int, list[bytes], list[tuple[int, int, bytes]]]:
    """Append leaves to a tree known by its frontier.

    Returns ``(new_size, new_frontier, new_nodes)`` where ``new_nodes`` lists
    every complete subtree of level >= 1 that the new leaves completed, as
    ``(level, index, hash)``.
    """
    if len(frontier) != bin(size).count("1"):
        raise ProofError(f"frontier of {len(frontier)} hashes does not fit tree size {size}")
    stack = list(frontier)
    nodes: list[tuple[int, int, bytes]] = []
    append = nodes.append
    for h in leaf_hashes:
        level, cur = 0, h
        while (size >> level) & 1:
            cur = _sha256(b"\x01" + stack.pop() + cur).digest()
            level += 1
            append((level, size >> level, cur))
        stack.append(cur)
        size += 1
    return size, stack, nodes


# -- proof plans: which subtree hashes a proof is made of -----------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges [a, b) whose hashes form PATH(index, D[0:size]), bottom-up."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PROOF(size1, D[0:size2]) (RFC 9162 2.1.4.1)."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    out: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


def range_nodes(start: int, end: int) -> list[NodeId]:
    """Complete subtrees making up the range [start, end) of an RFC 9162 split."""
    out: list[NodeId] = []
    while start < end:
        n = end - start
        level = n.bit_length() - 1 if n & (n - 1) == 0 else _split(n).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ProofError(f"range [{start}, {end}) is not a subtree")
        out.append((level, start >> level))
        start += 1 << level
    return out


def range_hash(start: int, end: int, hashes: Callable[[NodeId], bytes]) -> bytes:
    """Hash of the subtree over [start, end) from stored complete-subtree hashes."""
    parts = [hashes(node) for node in range_nodes(start, end)]
    return root_from_frontier(parts)


# -- verification ---------------------------------------------------------------


def _check_hashes(proof: Sequence[bytes], *named: tuple[str, bytes]) -> None:
    # Roots are only ever compared, so their length is not checked here (the
    # checkpoint parser guarantees 32 bytes); proof and leaf hashes are hashed.
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(f"proof hash {i} is {len(h)} bytes, not {HASH_SIZE}")
    for name, h in named:
        if len(h) != HASH_SIZE:
            raise ProofError(f"{name} is {len(h)} bytes, not {HASH_SIZE}")


def _root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    # RFC 9162 section 2.1.3.2.
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify PATH(index, D[0:size]) against ``root``; raise ProofError if wrong."""
    _check_hashes(proof, ("leaf hash", leaf))
    if _root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(
            f"inclusion proof for leaf {index} does not lead to the root of tree size {size}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Verify PROOF(size1, D[0:size2]) (RFC 9162 section 2.1.4.2); size1 must be > 0."""
    _check_hashes(proof)
    if size1 < 0 or size2 < size1:
        raise ProofError(f"tree size {size2} is smaller than {size1}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError(f"two different roots for tree size {size1}")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError(f"consistency proof does not lead to the root of tree size {size1}")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the root of tree size {size2}")


def is_valid_subtree(start: int, end: int) -> bool:
    """[start, end) is a subtree per draft-ietf-plants-merkle-tree-certs."""
    if not 0 <= start < end:
        return False
    width = 1 << (end - start - 1).bit_length()
    return start % width == 0


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Inclusion of leaf ``index`` in the subtree [start, end) with hash ``root``."""
    if not is_valid_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a valid subtree")
    if not start <= index < end:
        raise ProofError(f"leaf {index} is outside the subtree [{start}, {end})")
    _check_hashes(proof, ("leaf hash", leaf))
    if _root_from_inclusion(index - start, end - start, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the subtree hash")


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], node: bytes, root: bytes
) -> None:
    """The subtree [start, end) with hash ``node`` is part of the tree ``(size, root)``.

    An empty subtree (start == end) is accepted only with the empty-tree hash
    and an empty proof.
    """
    _check_hashes(proof)
    if start == end and start >= 0:
        if proof:
            raise ProofError("proof for an empty subtree must be empty")
        if node != EMPTY_ROOT:
            raise ProofError("empty subtree does not have the empty-tree hash")
        return
    if not is_valid_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a valid subtree")
    if end > size:
        raise ProofError(f"subtree [{start}, {end}) is outside a tree of size {size}")
    fn, sn, tn = start, end - 1, size - 1
    if sn == tn:
        while fn != sn:
            fn >>= 1
            sn >>= 1
            tn >>= 1
    else:
        while fn != sn and sn & 1:
            fn >>= 1
            sn >>= 1
            tn >>= 1
    if fn == sn:
        fr = sr = node
        rest = list(proof)
    else:
        if not proof:
            raise ProofError("subtree consistency proof is empty")
        fr = sr = proof[0]
        rest = list(proof[1:])
    for c in rest:
        if tn == 0:
            raise ProofError("subtree consistency proof is too long")
        if sn & 1 or sn == tn:
            if fn < sn:
                fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not sn & 1:
                fn >>= 1
                sn >>= 1
                tn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
        tn >>= 1
    if tn != 0:
        raise ProofError("subtree consistency proof is too short")
    if fr != node:
        raise ProofError("subtree consistency proof does not lead to the subtree hash")
    if sr != root:
        raise ProofError(f"subtree consistency proof does not lead to the root of size {size}")
