"""Measuring and preparing models for deployment."""
