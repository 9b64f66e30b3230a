"""Face sign-in: people enrolled to verify themselves 1:1 against a live capture, with presentation-attack checks."""
