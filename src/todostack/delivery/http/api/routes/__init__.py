"""Route handlers: translate HTTP to use-case calls and back. No business rules here."""
