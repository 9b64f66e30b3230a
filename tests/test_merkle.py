"""The audit log's Merkle tree: the incremental root, the bottom-up levels and RFC 9162's proof check agree."""

from __future__ import annotations

import hashlib

import pytest

from facesearch.audit.merkle import (
    EMPTY_ROOT,
    frontier_append,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    tree_levels,
    verify_inclusion,
)


def _rfc_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's definition, recursively: split at the largest power of two below n."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_rfc_root(leaves[:k]), _rfc_root(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33])
def test_every_construction_gives_the_rfc_root(n: int) -> None:
    leaves = _leaves(n)
    frontier: list[str | None] = []
    for leaf in leaves:
        frontier = frontier_append(frontier, leaf)
    expected = _rfc_root(leaves).hex()
    assert frontier_root(frontier) == expected
    assert root_of(tree_levels(leaves)) == expected


def test_the_empty_tree_has_the_rfc_root() -> None:
    assert frontier_root([]) == EMPTY_ROOT == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("n", range(1, 23))
def test_every_leaf_has_a_proof_and_only_its_own(n: int) -> None:
    leaves = _leaves(n)
    levels = tree_levels(leaves)
    root = root_of(levels)
    for i in range(n):
        proof = inclusion_proof(levels, i)
        assert verify_inclusion(leaves[i], i, n, proof, root)
        assert not verify_inclusion(leaf_hash(b"forged"), i, n, proof, root)
        if n > 1:
            assert not verify_inclusion(leaves[i], (i + 1) % n, n, proof, root)


def test_malformed_proofs_are_refused() -> None:
    leaves = _leaves(5)
    levels = tree_levels(leaves)
    root = root_of(levels)
    proof = inclusion_proof(levels, 2)
    assert not verify_inclusion(leaves[2], 2, 5, [*proof, proof[0]], root)
    assert not verify_inclusion(leaves[2], 2, 5, proof[:-1], root)
    assert not verify_inclusion(leaves[2], 2, 5, ["zz", *proof[1:]], root)
    assert not verify_inclusion(leaves[2], 7, 5, proof, root)
    with pytest.raises(IndexError):
        inclusion_proof(levels, 5)
