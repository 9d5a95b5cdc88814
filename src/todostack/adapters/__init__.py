"""Adapters: implementations of the use-case ports (storage, password hashing, tokens)."""
