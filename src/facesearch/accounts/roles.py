"""Who may do what: the role-by-action matrix, in one place, enforced on every route and documented.

Least privilege: administrators manage accounts and cameras but run no searches; case officers run
cases, enrolment and searches; reviewers decide on sightings; auditors read the log. Nobody reviews
what they enrolled (``review.service``). The photo library (a personal collection, no cases) has a role
of its own, ``library``, with nothing of camera mode, and no camera-mode role sees the library.
"""

from __future__ import annotations

ROLES = ("admin", "officer", "reviewer", "auditor", "library")

MATRIX: dict[str, frozenset[str]] = {
    "cases.read": frozenset({"admin", "officer", "reviewer", "auditor"}),
    "cases.write": frozenset({"officer"}),
    "identities.read": frozenset({"officer", "reviewer"}),
    "identities.enrol": frozenset({"officer"}),
    "search.verify": frozenset({"officer"}),
    "search.identify": frozenset({"officer"}),
    "cameras.read": frozenset({"admin", "officer"}),
    "cameras.write": frozenset({"admin"}),
    "scans.read": frozenset({"officer", "reviewer"}),
    "scans.write": frozenset({"officer"}),
    "sightings.read": frozenset({"officer", "reviewer", "auditor"}),
    "sightings.review": frozenset({"reviewer"}),
    "exports.write": frozenset({"officer"}),
    "audit.read": frozenset({"admin", "auditor"}),
    "accounts.write": frozenset({"admin"}),
    "metrics.read": frozenset({"admin"}),
    "library.read": frozenset({"library"}),
    "library.write": frozenset({"library"}),
}


def allowed(role: str, action: str) -> bool:
    return role in MATRIX[action]


def matrix_markdown() -> str:
    """The matrix as a Markdown table (README, and ``facesearch roles``)."""
    head = "| action | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES)
    rows = ["| " + action + " | " + " | ".join("yes" if r in who else "" for r in ROLES) + " |"
            for action, who in MATRIX.items()]
    return "\n".join([head, *rows])
