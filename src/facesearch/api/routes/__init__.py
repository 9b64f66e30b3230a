"""The HTTP API's routes, one module per domain, each a module-level ``router``; ``create_app`` includes
them all (``ROUTERS``). Handlers are plain functions, which FastAPI runs in its thread pool, so database
work and inference never block the event loop; they call the services and return their results' JSON,
checked against the response models of ``api.schemas``."""

from fastapi import APIRouter

from facesearch.api.routes import (
    accounts,
    audit,
    auth,
    calibration,
    cameras,
    cases,
    exports,
    identities,
    library,
    scans,
    search,
    sightings,
    signin,
    system,
    watchlists,
)

ROUTERS: tuple[APIRouter, ...] = tuple(m.router for m in (
    system, auth, cases, cameras, identities, search, sightings, scans, exports, accounts, audit, library,
    watchlists, signin, calibration))
