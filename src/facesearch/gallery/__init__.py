"""Galleries: enrolled identities, their sealed templates, and the search index derived from them."""
