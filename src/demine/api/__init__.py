"""The HTTP faces: OGC API - Features, the public safety API, vector tiles and the map page.

``create_app(db)`` builds the FastAPI application; ``demine serve`` runs it with uvicorn.
"""

from demine.api.app import create_app

__all__ = ["create_app"]
