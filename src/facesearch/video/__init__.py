"""Video: decode, track faces across frames, match tracks against case watchlists."""
