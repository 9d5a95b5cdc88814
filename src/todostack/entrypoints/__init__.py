"""The process entry points, on top of the house: the ``todostack`` command, the server it starts,
and the ASGI factory a server's workers call. Nothing imports this package."""
