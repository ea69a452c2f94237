"""Thailand's national complaint exchange hub.

The core (this package minus ``hub.api``) knows nothing of HTTP: it takes plain data and a
SQLAlchemy session and raises :class:`hub.errors.HubError` children.
"""

__version__ = "0.1.0"
