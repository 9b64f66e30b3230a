"""Who may do what: the role-by-action matrix, in one place, enforced on every route and documented.

Least privilege: administrators manage accounts and cameras but run no searches; case officers run
cases, enrolment and searches; reviewers decide on sightings; auditors read the log. Nobody reviews
what they enrolled (``review.service``). Officers and reviewers see only the cases they are assigned to
(``cases.access``), whatever the matrix allows. The photo library (a personal collection, no cases) has a role
of its own, ``library``, with nothing of camera mode, and no camera-mode role sees the library. Face sign-in's
``signin`` role may only verify people against themselves.
"""

from __future__ import annotations

ROLES = ("admin", "officer", "reviewer", "auditor", "library", "signin")

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
    "cases.assign": frozenset({"admin"}),
    "sightings.read": frozenset({"officer", "reviewer"}),
    "sightings.review": frozenset({"reviewer"}),
    "exports.write": frozenset({"officer"}),
    "audit.read": frozenset({"admin", "auditor"}),
    "accounts.write": frozenset({"admin"}),
    "apikeys.own": frozenset(ROLES),
    "metrics.read": frozenset({"admin"}),
    "library.read": frozenset({"library"}),
    "library.write": frozenset({"library"}),
    # Face sign-in: administrators enrol and remove people (a face is a credential, like an account); the
    # ``signin`` role is what a sign-in kiosk or app's key holds, and may only verify.
    "signin.manage": frozenset({"admin"}),
    "signin.verify": frozenset({"admin", "signin"}),
    # The thresholds every search uses: putting a site calibration in force (or withdrawing it) is an
    # administrator's, as configuring the installation is.
    "calibration.manage": frozenset({"admin"}),
}

# Actions only a person signed in with their own account may take: never an API key (which acts for a program).
PERSON_ONLY = frozenset({"sightings.review", "apikeys.own"})


def allowed(role: str, action: str) -> bool:
    return role in MATRIX[action]


def allowed_for(role: str, kind: str, action: str) -> bool:
    """``allowed``, and for an action in ``PERSON_ONLY`` only a person (``kind == "user"``)."""
    return allowed(role, action) and (kind == "user" or action not in PERSON_ONLY)


def matrix_markdown() -> str:
    """The matrix as a Markdown table (README, and ``facesearch roles``)."""
    head = "| action | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES)
    mark = {a: "yes (signed in)" if a in PERSON_ONLY else "yes" for a in MATRIX}
    rows = ["| " + action + " | " + " | ".join(mark[action] if r in who else "" for r in ROLES) + " |"
            for action, who in MATRIX.items()]
    return "\n".join([head, *rows])
