"""Synthetic district generator: raw department extracts with planted rule signals, and their ground truth."""

from .core import generate

__all__ = ["generate"]
