"""Every storage test runs twice: on SQLite, and on a real PostgreSQL with pgvector (``database_url``,
from ``support.databases``)."""
