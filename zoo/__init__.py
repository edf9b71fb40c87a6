"""Reference models and the high-level training API, built on the public ``framework`` API."""
