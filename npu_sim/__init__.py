"""Cycle-approximate DaVinci-style AI-core simulator (standalone: imports nothing else of ours)."""
