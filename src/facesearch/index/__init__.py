"""Search indexes: FAISS over the gallery's templates, and their sealed cache on disk (derived data)."""
