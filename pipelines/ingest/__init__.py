"""Ingest: read every file of a source folder into typed, normalised rows and rejects."""
