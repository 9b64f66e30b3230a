"""Evaluation protocols."""
