"""The FireworksError hierarchy: one type per failure class of the clusters API.

Every error carries the HTTP status, the gRPC code name, the server's message and the request's method and
path. None of them ever holds the API key: requests are described by method and path only.
"""

from __future__ import annotations


class FireworksError(Exception):
    """Base of every error raised by this package's Fireworks client."""

    grpc_code = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code or self.grpc_code
        self.method = method
        self.path = path
        self.retry_safe = False
        """Set when the request provably changed nothing (a POST whose follow-up look-up found no cluster)."""
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"HTTP {self.status} " if self.status is not None else ""
        return f"{where}{status}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ConfigurationError(FireworksError):
    """A setting is missing or unsafe; raised before any request is sent."""

    grpc_code = "FAILED_PRECONDITION"


class InvalidArgument(FireworksError):
    grpc_code = "INVALID_ARGUMENT"


class Unauthenticated(FireworksError):
    grpc_code = "UNAUTHENTICATED"


class PermissionDenied(FireworksError):
    grpc_code = "PERMISSION_DENIED"


class NotFound(FireworksError):
    grpc_code = "NOT_FOUND"


class AlreadyExists(FireworksError):
    grpc_code = "ALREADY_EXISTS"


class RateLimited(FireworksError):
    grpc_code = "RESOURCE_EXHAUSTED"


class Unavailable(FireworksError):
    """The service could not be reached or said it is unavailable (503, connection errors, timeouts)."""

    grpc_code = "UNAVAILABLE"


class ServerError(FireworksError):
    grpc_code = "INTERNAL"


class InvalidResponse(FireworksError):
    """A successful status whose body is not the JSON object the API promises (a proxy's page, a cut-off reply)."""

    grpc_code = "DATA_LOSS"


class ClusterFailed(FireworksError):
    """The cluster reached FAILED; `code` and `message` come from the cluster's `status`."""


class WaitTimeout(FireworksError):
    """A deadline passed while waiting; `last_state` is the state the cluster was last seen in, `last_error` the
    transient error of the last poll, if it failed."""

    grpc_code = "DEADLINE_EXCEEDED"

    def __init__(self, message: str, *, last_state: str | None, last_error: FireworksError | None = None) -> None:
        self.last_state = last_state
        self.last_error = last_error
        super().__init__(message)


class WaitCancelled(FireworksError):
    """The engine cancelled the operation while it waited; `last_state` is the state last seen."""

    grpc_code = "CANCELLED"

    def __init__(self, message: str, *, last_state: str | None) -> None:
        self.last_state = last_state
        super().__init__(message)


def is_transient(exc: FireworksError) -> bool:
    """An error that a later attempt may not meet: no reply, rate limited, or a server-side failure."""
    return isinstance(exc, (Unavailable, RateLimited, ServerError))


# HTTP status → error type. 400 also carries FAILED_PRECONDITION and 409 ABORTED; the code name in the body
# says which, the type says how a caller should react.
BY_STATUS: dict[int, type[FireworksError]] = {
    400: InvalidArgument,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: AlreadyExists,
    429: RateLimited,
    503: Unavailable,
    504: Unavailable,
}


def error_for_status(status: int) -> type[FireworksError]:
    if status in BY_STATUS:
        return BY_STATUS[status]
    return ServerError if status >= 500 else FireworksError
