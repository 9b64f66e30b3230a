"""Face detection."""
