"""HTTP edge: connexion operation handlers. Parse, call one core function, serialise.

No session, query or business rule lives here; handlers get the :class:`hub.services.Hub`
through :func:`hub.api.deps.hub` and hand it to the core.
"""
