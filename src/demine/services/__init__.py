"""Use cases. The CLI and the HTTP API both call these, so the two never disagree."""
