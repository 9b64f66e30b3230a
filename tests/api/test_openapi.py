"""The OpenAPI spec is a contract a program can be built from: every route documents its success body, and
a client generated from the spec (openapi-python-client) talks to a real server and gets typed answers."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from facesearch.api.app import create_app
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from owned_keys import key_for
from support.audit import open_audited
from support.rtsp import free_port

# The generator lives in an environment of its own (scripts/install-test-tools.sh): it pins an older typer.
GENERATOR = Path(__file__).resolve().parents[2] / ".tools" / "openapi" / "bin" / "openapi-python-client"
# The generator reads JSON and multipart bodies only; the files the API hands out are bytes to a client.
GENERATOR_CONFIG = """\
content_type_overrides:
  application/zip: application/octet-stream
  image/jpeg: application/octet-stream
  "text/plain; version=0.0.4": text/plain
post_hooks: []
"""


@pytest.fixture()
def app(tmp_path: Path) -> FastAPI:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    return create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)


def documented_operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        if path.startswith("/v1/") or path == "/health":
            for method, operation in operations.items():
                yield method.upper(), path, operation


def test_every_route_documents_its_success_body(app: FastAPI) -> None:
    operations = list(documented_operations(app.openapi()))
    assert len(operations) > 30
    for method, path, operation in operations:
        success = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
        assert success, (method, path)
        for answer in success.values():
            content = answer.get("content")
            assert content, (method, path, "no media type")
            json_body = content.get("application/json")
            if json_body is not None:  # FastAPI writes an empty schema for a route without a response model
                assert json_body.get("schema"), (method, path, "an untyped JSON body")
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids))


@pytest.fixture()
def server(app: FastAPI) -> Iterator[str]:
    port = free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        thread.join(timeout=0.05)
    assert running.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


def generated_client(spec: dict[str, Any], folder: Path) -> str:
    """Generate a client package from ``spec`` into ``folder`` (importable from there); returns its name."""
    (folder / "spec.json").write_text(json.dumps(spec))
    (folder / "config.yaml").write_text(GENERATOR_CONFIG)
    assert GENERATOR.is_file(), f"{GENERATOR}: missing; scripts/install-test-tools.sh installs it"
    made = subprocess.run([str(GENERATOR), "generate", "--path",
                           str(folder / "spec.json"), "--config", str(folder / "config.yaml"), "--meta", "none",
                           "--output-path", str(folder / "facesearch_client"), "--fail-on-warning"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return "facesearch_client"


def test_a_generated_client_gets_typed_answers(app: FastAPI, server: str, tmp_path: Path) -> None:
    sessions = app.state.context.sessions
    officer = key_for(sessions, "officer-key", "officer")
    name = generated_client(app.openapi(), tmp_path)
    try:
        client_module = importlib.import_module(name)
        cases_api = importlib.import_module(f"{name}.api.cases")
        models = importlib.import_module(f"{name}.models")
        for route in ("list_cases", "create_case", "get_case"):
            importlib.import_module(f"{name}.api.cases.{route}")
        client = client_module.AuthenticatedClient(base_url=server, token=officer, raise_on_unexpected_status=True)

        assert cases_api.list_cases.sync(client=client) == []
        until = datetime.now(UTC) + timedelta(days=3)
        made = cases_api.create_case.sync(client=client, body=models.CaseIn(
            title="Missing: J. Doe", purpose="missing-person", valid_until=until, legal_basis="x",
            authorisation_ref="y", authorised_by="z", cameras=["cam-1"]))
        assert isinstance(made, models.CaseOut)
        assert made.id == "C1" and made.status == models.CaseStatus.AUTHORISED and made.cameras == ["cam-1"]
        assert isinstance(made.valid_until, datetime) and made.valid_until == until
        read = cases_api.get_case.sync("c1", client=client)
        assert isinstance(read, models.CaseOut) and read.title == "Missing: J. Doe" and read.targets == []
        assert [c.id for c in cases_api.list_cases.sync(client=client)] == ["C1"]

        missing = cases_api.get_case.sync("C9", client=client)
        assert isinstance(missing, models.ErrorOut) and missing.kind == models.ErrorKind.NOT_FOUND
        anonymous = client_module.Client(base_url=server)
        refused = cases_api.get_case.sync("C1", client=anonymous)
        assert isinstance(refused, models.ErrorOut) and "API key" in refused.error
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]
