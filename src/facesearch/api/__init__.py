"""The HTTP API (FastAPI) and, later, the web console."""
