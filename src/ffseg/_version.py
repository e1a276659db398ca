"""The package version (bottom layer: importable from anywhere without cycles)."""

__version__ = "0.1.0.dev0"
