"""Built-in layer lists of reference networks (until the framework's model zoo can be lowered)."""
