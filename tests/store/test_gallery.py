"""Enrolment into the gallery, on SQLite and PostgreSQL, with the real engine and real photos."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.engine import Engine
from facesearch.gallery.policy import EnrolmentRefused
from facesearch.gallery.service import enrol, load_index
from facesearch.store.crypto import KeyMismatchError, Sealer
from facesearch.store.schema import IdentityRow, TemplateRow
from support.audit import open_audited


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_enrol_seals_templates_and_warns_about_a_second_enrolment(
    database_url: str, engine: Engine, people: Path
) -> None:
    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    first = enrol(engine, sessions, sealer, "Barack Obama", [people / "obama.jpg"], actor="officer-1")
    assert first.accepted == 1 and first.identity_id is not None
    with sessions() as s:
        row = s.scalars(select(TemplateRow)).one()
    clear = engine.analyze(people / "obama.jpg").embeddings[0]
    assert clear.tobytes() not in row.sealed  # at rest, only ciphertext
    index = load_index(sessions, sealer, engine.profile, engine.embedding_size)
    assert len(index) == 1
    np.testing.assert_allclose(index.search(clear[None], 1)[0][0, 0], 1.0, atol=1e-5)

    again = enrol(engine, sessions, sealer, "B. Obama", [people / "obama2.jpg"], actor="officer-2")
    assert again.photos[0].accepted and again.photos[0].similar_to[0]["name"] == "Barack Obama"
    other = enrol(engine, sessions, sealer, "Joe Biden", [people / "biden.jpg"], actor="officer-2")
    assert other.photos[0].similar_to == []
    with sessions() as s:
        entries = list(audit.events(s))
        assert [e.action for e in entries] == ["identity.enrol"] * 3
        # The log names the identity by id: it cannot be sealed, so it never holds a name.
        assert entries[1].details["similar_to"][0]["identity_id"] == first.identity_id
        assert "Obama" not in str([e.details for e in entries])
        assert verify_log(s).ok


def test_unfit_photos_are_refused_with_reasons_and_nothing_is_written(
    database_url: str, engine: Engine, people: Path
) -> None:
    _, sessions = open_audited(database_url)
    obama = np.asarray(Image.open(people / "obama.jpg").convert("RGB"))
    blank = _jpeg(np.full((300, 300, 3), 170, np.uint8))
    blurred = _jpeg(cv2.GaussianBlur(obama, (0, 0), 12))  # about 4% of the 275-px face: visibly out of focus
    tiny = _jpeg(cv2.resize(obama, (obama.shape[1] // 6, obama.shape[0] // 6), interpolation=cv2.INTER_AREA))
    photos = [blank, people / "two_people.jpg", blurred, tiny, blank]
    with pytest.raises(EnrolmentRefused) as info:
        enrol(engine, sessions, Sealer(os.urandom(32)), "Nobody", photos, actor="officer")
    message = str(info.value)
    for reason in ("no face found", "2 faces in the photo", "too blurred", "too small", "given twice"):
        assert reason in message
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(IdentityRow)) == 0
        assert list(audit.events(s)) == []


def test_a_wrong_key_opens_no_template(database_url: str, engine: Engine, people: Path) -> None:
    _, sessions = open_audited(database_url)
    enrol(engine, sessions, Sealer(os.urandom(32)), "Lin-Manuel Miranda", [people / "lin-manuel-miranda.png"],
          actor="officer")
    with pytest.raises(KeyMismatchError, match="wrong key"):
        load_index(sessions, Sealer(os.urandom(32)), engine.profile, engine.embedding_size)


def test_the_sealed_index_is_used_when_fresh_and_rebuilt_when_stale(
    database_url: str, engine: Engine, people: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from facesearch.index.cache import IndexCache
    from facesearch.store.schema import TemplateRow

    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    cache = IndexCache(tmp_path / "index", sealer)
    enrol(engine, sessions, sealer, "Barack Obama", [people / "obama.jpg"], actor="o", cache=cache)
    enrol(engine, sessions, sealer, "Joe Biden", [people / "biden.jpg"], actor="o", cache=cache)
    path = cache.path(engine.profile)
    clear = engine.analyze(people / "biden.jpg").embeddings[0]
    assert path.is_file() and clear.tobytes() not in path.read_bytes()  # sealed on disk too
    fresh = load_index(sessions, sealer, engine.profile, engine.embedding_size, cache=cache)
    assert len(fresh) == 2

    with sessions.begin() as s:  # the database changes behind the cache's back
        s.execute(TemplateRow.__table__.delete().where(TemplateRow.identity_id == 1))
    with caplog.at_level(logging.INFO, logger="facesearch.index.cache"):
        rebuilt = load_index(sessions, sealer, engine.profile, engine.embedding_size, cache=cache)
    assert len(rebuilt) == 1 and "stale" in caplog.text
    path.write_bytes(b"garbage")
    assert len(load_index(sessions, sealer, engine.profile, engine.embedding_size, cache=cache)) == 1
    with pytest.raises(KeyMismatchError):  # a cache cannot be opened with another key either
        Sealer(os.urandom(32)).open(path.read_bytes(), f"gallery-index:{engine.profile}")

    # A file an earlier installation left in the folder (sealed with its key) is rebuilt over, not an error...
    _, new_sessions = open_audited(f"sqlite:///{tmp_path / 'new.db'}")
    new_sealer = Sealer(os.urandom(32))
    enrol(engine, new_sessions, new_sealer, "Barack Obama", [people / "obama.jpg"], actor="o")
    with caplog.at_level(logging.WARNING, logger="facesearch.index.cache"):
        reused = load_index(new_sessions, new_sealer, engine.profile, engine.embedding_size,
                            cache=IndexCache(tmp_path / "index", new_sealer))
    assert len(reused) == 1 and "left by another installation" in caplog.text
    # ...while the wrong key for the database's own templates still stops everything, naming both keys.
    with pytest.raises(KeyMismatchError, match="wrong key"):
        load_index(new_sessions, Sealer(os.urandom(32)), engine.profile, engine.embedding_size,
                   cache=IndexCache(tmp_path / "index", Sealer(os.urandom(32))))


def test_approximate_indexes_find_what_exact_search_finds() -> None:
    from facesearch.index.gallery_index import GalleryIndex

    rng = np.random.default_rng(0)
    gallery = rng.standard_normal((5000, 64)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    queries = gallery[:200] + rng.standard_normal((200, 64)).astype(np.float32) * 0.08
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = np.arange(100, 5100, dtype=np.int64)
    exact = GalleryIndex.build(ids, ids // 2, gallery, 64, kind="exact")
    for kind in ("hnsw", "pq"):
        approximate = GalleryIndex.build(ids, ids // 2, gallery, 64, kind=kind)
        assert approximate.kind == kind
        assert (approximate.search(queries, 1)[1][:, 0] == exact.search(queries, 1)[1][:, 0]).mean() >= 0.99
    assert GalleryIndex.build(ids[:100], ids[:100], gallery[:100], 64, kind="pq").kind == "exact"  # too few
    assert (exact.search(queries, 1)[1][:, 0] == ids[:200]).all()
    with pytest.raises(ValueError, match="index kind"):
        GalleryIndex.build(ids, ids, gallery, 64, kind="ivf")


@pytest.mark.parametrize("kind", ["hnsw", "pq"])
def test_an_approximate_index_is_kept_on_disk_and_grows_in_place(tmp_path: Path, kind: str) -> None:
    from facesearch.index.cache import IndexCache
    from facesearch.index.gallery_index import GalleryIndex

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, 3001, dtype=np.int64)
    graph = GalleryIndex.build(ids[:2000], ids[:2000] % 700, vectors[:2000], 32, kind=kind)
    cache = IndexCache(tmp_path, Sealer(os.urandom(32)))
    cache.save("p", graph)
    loaded = cache.load("p", 32, graph.fingerprint)
    assert loaded is not None and loaded.kind == kind and loaded.serialized() is not None
    assert (loaded.search(vectors[:50], 5)[1] == graph.search(vectors[:50], 5)[1]).all()  # the same index

    loaded.add(ids[2000:], ids[2000:] % 700, vectors[2000:])
    assert len(loaded) == 3000 and loaded.fingerprint == GalleryIndex.build(ids, ids, vectors, 32).fingerprint
    found = loaded.search(vectors[2000:2100], 1)[1][:, 0]
    assert (found == ids[2000:2100]).mean() >= 0.99
    assert (loaded.identity_of(found) == found % 700).all()
    assert loaded.identity_of(np.array([[-1, 99999]])).tolist() == [[-1, -1]]  # padding and unknown ids
    assert cache.load("p", 32, loaded.fingerprint) is None  # the file on disk is now stale
