"""Storage: encryption at rest (groundwork for galleries and cases)."""
