"""Exports of finished runs: each reads a run folder and writes new files beside what it read."""
