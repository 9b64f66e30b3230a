"""Human review of candidate sightings, and the redacted export of confirmed ones."""
