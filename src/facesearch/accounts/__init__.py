"""Accounts: people and programs, their roles, sign-in and sessions."""
