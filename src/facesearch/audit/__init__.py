"""The tamper-evident audit log (groundwork for galleries and cases)."""
