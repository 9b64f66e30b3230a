"""A process killed with SIGKILL at random moments during a bulk enrolment leaves a consistent gallery:
no identity without templates, no template without its identity, every enrolment that was reported
committed is there, and the audit chain is intact."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import func, select

from facesearch.audit import log as audit
from facesearch.audit.checkpoints import CheckpointLog
from facesearch.audit.keys import create_audit_key_file, load_audit_key
from facesearch.audit.verification import verify as verify_log
from facesearch.gallery.service import load_index, template_purpose
from facesearch.index.cache import IndexCache
from facesearch.store.crypto import create_key_file, load_key
from facesearch.store.db import open_database
from facesearch.store.schema import IdentityRow, TemplateRow

WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from facesearch.engine import Engine
    from facesearch.index.cache import IndexCache
    from facesearch.gallery.service import enrol
    from facesearch.store.crypto import load_key
    from facesearch.store.db import open_database
    from facesearch.audit import log as audit_log
    from facesearch.audit.checkpoints import CheckpointLog
    from facesearch.audit.keys import load_audit_key

    home, url, log_path, *people = sys.argv[1:]
    _, sessions = open_database(url)
    audit_log.attach(sessions, audit_log.AuditTrail(load_audit_key(Path(home)),
                                                    CheckpointLog(Path(home) / "audit-checkpoints")))
    sealer = load_key(Path(home))
    engine = Engine("dlib")
    cache = IndexCache(Path(home) / "index", sealer)
    with open(log_path, "a") as log:
        for folder in people:
            photos = sorted(Path(folder).glob("*.jpg"))[:2]
            try:
                report = enrol(engine, sessions, sealer, Path(folder).name, photos, actor="bulk", warn_threshold=2.0,
                               cache=cache)
            except Exception as exc:  # an unfit photo set: reported, not fatal
                log.write(f"refused {Path(folder).name}\\n")
                continue
            log.write(f"committed {report.identity_id} {report.name}\\n")
            log.flush()
    """
)


def test_twenty_kills_leave_the_gallery_consistent(tmp_path: Path, lfw: Path) -> None:
    home = tmp_path / "home"
    create_key_file(home / "key")
    create_audit_key_file(home)
    url = f"sqlite:///{home / 'facesearch.db'}"
    open_database(url)
    people = [str(p) for p in sorted(lfw.iterdir()) if p.is_dir()][:400]
    log_path = tmp_path / "committed.log"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    rng = random.Random(1)
    kills = 0
    while kills < 20:
        proc = subprocess.Popen([sys.executable, str(script), str(home), url, str(log_path), *people],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(2.0, 4.0))  # model loading takes about 1.5 s; then enrolments run
        if proc.poll() is not None:
            raise AssertionError(f"worker ended before it was killed: {proc.stderr.read().decode()[-500:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1

    _, sessions = open_database(url)
    audit.attach(sessions, audit.AuditTrail(load_audit_key(home), CheckpointLog(home / "audit-checkpoints")))
    sealer = load_key(home)
    committed = {int(line.split()[1]) for line in log_path.read_text().splitlines() if line.startswith("committed")}
    assert committed, "no enrolment finished between the kills"
    with sessions() as s:
        identities = set(s.scalars(select(IdentityRow.id)))
        without_templates = s.scalar(
            select(func.count()).select_from(IdentityRow)
            .where(~IdentityRow.id.in_(select(TemplateRow.identity_id)))
        )
        orphans = s.scalar(
            select(func.count()).select_from(TemplateRow).where(~TemplateRow.identity_id.in_(select(IdentityRow.id)))
        )
        assert without_templates == 0 and orphans == 0
        assert committed <= identities  # every reported enrolment survived
        result = verify_log(s)
        assert result.ok, result.reason
        enrolments = [e for e in audit.events(s) if e.action == "identity.enrol"]
        assert {int(str(e.subject).split(":")[1]) for e in enrolments} == identities
        rows = list(s.scalars(select(TemplateRow)))
        for row in rows:  # every sealed template still opens
            sealer.open_vector(row.sealed, template_purpose(row.identity_id, row.source_sha256, row.profile))
    # The on-disk index, possibly written before a kill or not at all, agrees with the database.
    index = load_index(sessions, sealer, "dlib", 128, cache=IndexCache(home / "index", sealer))
    assert sorted(index.template_ids.tolist()) == sorted(r.id for r in rows)
