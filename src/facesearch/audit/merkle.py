"""A Merkle tree over the audit log, as Certificate Transparency builds it (RFC 9162, section 2.1).

Leaves are ``SHA-256(0x00 || entry)``, inner nodes ``SHA-256(0x01 || left || right)``; the tree of ``n``
leaves splits at the largest power of two below ``n``. Built bottom up, that is the same as pairing
neighbours level by level and carrying an odd last node up unchanged, which is how this module builds it.

Two uses: the *frontier* (the roots of the perfect subtrees along the right edge, one per set bit of the
size) lets every append update the root in O(log n) with nothing but the head row; an *inclusion proof*
shows that one entry is leaf ``i`` of the tree whose root a signed checkpoint names, without the rest of
the log (an export carries its case's entries and their proofs, not the whole log).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


Frontier = list[str | None]  # level -> root of a perfect subtree of 2**level leaves (hex), or None


def frontier_append(frontier: Sequence[str | None], leaf: bytes) -> Frontier:
    """The frontier after adding ``leaf``: a binary counter whose carries are node hashes."""
    out: Frontier = list(frontier)
    carry, level = leaf, 0
    while level < len(out) and out[level] is not None:
        carry = node_hash(bytes.fromhex(out[level] or ""), carry)
        out[level] = None
        level += 1
    if level == len(out):
        out.append(None)
    out[level] = carry.hex()
    return out


def frontier_root(frontier: Sequence[str | None]) -> str:
    """The tree's root: the right edge's subtrees folded from the smallest (rightmost) to the largest."""
    acc: bytes | None = None
    for node in frontier:
        if node is None:
            continue
        acc = bytes.fromhex(node) if acc is None else node_hash(bytes.fromhex(node), acc)
    return EMPTY_ROOT if acc is None else acc.hex()


def tree_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root last."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])  # the odd last node moves up unpaired
        levels.append(above)
    return levels


def root_of(levels: list[list[bytes]]) -> str:
    return levels[-1][0].hex() if levels and levels[-1] else EMPTY_ROOT


def inclusion_proof(levels: list[list[bytes]], index: int) -> list[str]:
    """The audit path of leaf ``index``: the sibling at each level where it has one (RFC 9162 order)."""
    if not 0 <= index < len(levels[0]):
        raise IndexError(f"leaf {index} is not in a tree of {len(levels[0])} leaves")
    path, i = [], index
    for level in levels[:-1]:
        sibling = i - 1 if i % 2 else i + 1
        if sibling < len(level):
            path.append(level[sibling].hex())
        i //= 2
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[str], root: str) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` lead from leaf ``index`` to ``root`` in a tree of ``size``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for hex_node in proof:
        try:
            p = bytes.fromhex(hex_node)
        except ValueError:
            return False
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root
