"""Prometheus metrics of the API: requests and their latency by route, faces processed, job queue depth.

Each app has its own registry (tests make several apps in one process). Routes are labelled by their
template (``/v1/scans/{job_id}``), never the raw path, so ids do not explode the label set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("facesearch_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("facesearch_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.faces = Counter("facesearch_faces_processed_total", "Faces detected in uploaded photos", ["route"],
                             registry=self.registry)
        self.queue = Gauge("facesearch_jobs_queued", "Background jobs waiting to run", registry=self.registry)
        self.running = Gauge("facesearch_jobs_running", "Background jobs running", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
