"""demine: an open information system for humanitarian mine action.

The public library API is re-exported here; the CLI (``demine``) and the HTTP API are thin faces
over :mod:`demine.services`.
"""

from demine.errors import Conflict, DemineError, Fault, NotFound, PermissionDenied, ValidationError

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "DemineError",
    "Fault",
    "NotFound",
    "PermissionDenied",
    "ValidationError",
    "__version__",
]
