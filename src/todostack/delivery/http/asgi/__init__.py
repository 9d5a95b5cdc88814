"""The ASGI plumbing wing: what every request goes through whatever route it takes (its scope and
deadline, the worker's lifecycle, client disconnects, sending, reporting, body checks, the
problem+json wire format). It knows nothing of the API's routes or schemas."""
