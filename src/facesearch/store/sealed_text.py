"""Who is sought, sealed at rest: identity names and references, case titles, purpose texts and legal bases,
reviewers' notes and the library's names, sealed like templates (AES-256-GCM with the installation's key).

A stolen database without the key shows ids, times, statuses and scores, never a name. Each sealed value
binds its table, field and row id as the purpose (``identities.name:7``), so a value copied to another row
or field fails to open. The plaintext column stays in the schema but holds a blank (``""``, ``NULL`` or
``{}``); the value is in ``<field>_sealed``.

Names are looked up through a keyed *blind index* (``name_index``): HMAC-SHA256 of the normalised name
(Unicode NFKC, case-folded, spaces collapsed) with a key derived from the data key by HKDF. Equal names
give equal index values, but without the key nobody can compute the value of a guessed name.

The key travels with the session factory: ``bind`` (done by every ``Context``) puts the sealer in each
session's ``info``, where ``put`` and ``get`` find it. A factory without one (a bare ``open_database``, as
tests and migrations use) writes and reads the plaintext columns; ``seal_plaintext``, run as a ``Context``
opens, seals what such writes and earlier versions left in clear, then blanks it (idempotent: rows
already sealed are not touched, and a database with nothing to seal is not written to).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.store.crypto import EncryptionKeyError, Sealer
from facesearch.store.schema import Base, CaseRow, IdentityRow, LibraryPersonRow, ReviewRow, SignInPersonRow

log = logging.getLogger(__name__)

SEALER_INFO = "facesearch.sealer"  # the key of the sealer in a session's ``info``
INDEX_INFO = b"facesearch name index v1"

# The free text that can name the person sought, per table. ``identities.reference`` is a JSON object.
SEALED_FIELDS: dict[type[Base], tuple[str, ...]] = {
    IdentityRow: ("name", "reference"),
    CaseRow: ("title", "purpose_text", "legal_basis"),
    ReviewRow: ("note",),
    LibraryPersonRow: ("name",),
    SignInPersonRow: ("name",),
}
JSON_FIELDS = {("identities", "reference")}
INDEXED_FIELD = "name"  # tables with a ``name_index`` column index this field


def bind(sessions: sessionmaker[Session], sealer: Sealer) -> None:
    """Give every session of ``sessions`` the key that seals and opens names."""
    sessions.configure(info={**sessions.kw.get("info", {}), SEALER_INFO: sealer})


def sealer_of(s: Session) -> Sealer | None:
    sealer = s.info.get(SEALER_INFO)
    return sealer if isinstance(sealer, Sealer) else None


def purpose(table: str, field: str, row_id: int) -> str:
    """What a sealed field is bound to: opening it under another table, field or row fails."""
    return f"{table}.{field}:{row_id}"


def normalise_name(name: str) -> str:
    """The form names are compared in: NFKC, case-folded, inner spaces collapsed, ends stripped."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@lru_cache(maxsize=8)
def _index_key(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_INFO).derive(key)


def name_index(sealer: Sealer, name: str) -> str:
    """The blind index of ``name``: equal for equal (normalised) names, unguessable without the key."""
    return hmac.new(_index_key(sealer.key), normalise_name(name).encode(), hashlib.sha256).hexdigest()


def _blank(row: Base, field: str) -> Any:
    if (row.__tablename__, field) in JSON_FIELDS:
        return {}
    return None if row.__table__.c[field].nullable else ""


def _encode(table: str, field: str, value: Any) -> bytes:
    if (table, field) in JSON_FIELDS:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return str(value).encode()


def _decode(table: str, field: str, data: bytes) -> Any:
    return json.loads(data) if (table, field) in JSON_FIELDS else data.decode()


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {}


def put(s: Session, row: Base, values: Mapping[str, Any], sealer: Sealer | None = None) -> None:
    """Set ``row``'s sealed fields to ``values``: sealed with ``sealer`` or the session's key, else in clear.

    A new row is added and flushed first (the purpose needs its id) with blanks in its plaintext columns."""
    table = row.__tablename__
    sealer = sealer or sealer_of(s)
    if sealer is None:
        for field, value in values.items():
            setattr(row, field, _blank(row, field) if _empty(value) else value)
            setattr(row, f"{field}_sealed", None)
            if field == INDEXED_FIELD and hasattr(row, "name_index"):
                row.name_index = None
        return
    if row.id is None:  # type: ignore[attr-defined]
        for field in values:
            setattr(row, field, _blank(row, field))
        s.add(row)
        s.flush()
    row_id: int = row.id  # type: ignore[attr-defined]
    for field, value in values.items():
        setattr(row, field, _blank(row, field))
        setattr(row, f"{field}_sealed", None if _empty(value) else
                sealer.seal(_encode(table, field, value), purpose(table, field, row_id)))
        if field == INDEXED_FIELD and hasattr(row, "name_index"):
            row.name_index = None if _empty(value) else name_index(sealer, str(value))


def get(s: Session, row: Base, field: str, sealer: Sealer | None = None) -> Any:
    """``row``'s ``field``, opened with ``sealer`` or the session's key (or as stored in clear by an older
    version)."""
    sealed = getattr(row, f"{field}_sealed")
    if sealed is None:
        value = getattr(row, field)
        return _blank(row, field) if value is None and (row.__tablename__, field) in JSON_FIELDS else value
    where = purpose(row.__tablename__, field, row.id)  # type: ignore[attr-defined]
    sealer = sealer or sealer_of(s)
    if sealer is None:
        raise EncryptionKeyError(where, "is sealed: open the database with its key (a facesearch Context)")
    return _decode(row.__tablename__, field, sealer.open(sealed, where))


def index_matches(s: Session, model: type[IdentityRow] | type[LibraryPersonRow], name: str) -> Any:
    """A WHERE clause for rows of ``model`` whose name is ``name`` (normalised): by the blind index, and by
    the plaintext column for rows not sealed yet."""
    sealer = sealer_of(s)
    clear = and_(model.name_sealed.is_(None), model.name.is_not(None))
    if sealer is None:
        return clear
    return or_(model.name_index == name_index(sealer, name), clear)


def name_is(s: Session, row: IdentityRow | LibraryPersonRow, name: str) -> bool:
    """Whether ``row``'s name is ``name`` once both are normalised (for rows found by ``index_matches``)."""
    value = get(s, row, "name")
    return value is not None and normalise_name(value) == normalise_name(name)


def _in_clear(model: type[Base]) -> Any:
    clauses = []
    for field in SEALED_FIELDS[model]:
        if (model.__tablename__, field) in JSON_FIELDS:
            continue
        column = getattr(model, field)
        clauses.append(and_(column.is_not(None), column != ""))
    return or_(*clauses)


def seal_plaintext(sessions: sessionmaker[Session], sealer: Sealer) -> int:
    """Seal every name, title and note still stored in clear, then blank the plaintext; returns how many rows
    changed. Idempotent, and it writes nothing when there is nothing to seal (a read-only database opens)."""
    with sessions() as s:
        due = any(s.scalar(select(model.id).where(_in_clear(model)).limit(1)) is not None  # type: ignore[attr-defined]
                  for model in SEALED_FIELDS)
    if not due:
        return 0
    changed = 0
    with sessions.begin() as s:
        s.info[SEALER_INFO] = sealer
        if s.get_bind().dialect.name == "sqlite":
            s.connection().exec_driver_sql("PRAGMA secure_delete=ON")  # the blanked text's old bytes are zeroed
        for model, fields in SEALED_FIELDS.items():
            rows = s.scalars(select(model).where(_in_clear(model)).with_for_update()).all()
            for row in rows:
                values = {}
                for field in fields:
                    clear = getattr(row, field)
                    # A field sealed already keeps its sealed value; only what is in clear is sealed now.
                    values[field] = get(s, row, field) if getattr(row, f"{field}_sealed") is not None else clear
                put(s, row, values)
                changed += 1
    log.info("sealed the names, titles and notes of %d rows stored in clear", changed)
    _scrub_sqlite(sessions)
    return changed


def _scrub_sqlite(sessions: sessionmaker[Session]) -> None:
    """Rewrite a SQLite file so that the plaintext just blanked survives in no free page and no WAL frame.

    Another process holding the database (a running server) makes this fail: it is logged and left to the
    next open, which finds nothing to seal and does not retry; ``VACUUM`` by hand does the same."""
    engine = sessions.kw.get("bind")
    if engine is None or engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    except Exception as exc:  # best effort: the values themselves are sealed already
        log.warning("could not rewrite the database file after sealing (%s); run VACUUM when it is not in use",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    finally:
        connection.close()
