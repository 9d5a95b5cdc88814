"""The API wing: routes, their schemas, how errors become problems, preconditions, OpenAPI."""
