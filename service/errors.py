"""Errors a client can cause, in MLflow's error shape `{"error_code": ..., "message": ...}`."""

from __future__ import annotations


class AnsweredError(Exception):
    """An error answered as it is: `status` is the HTTP status, `error_code` MLflow's code name."""

    def __init__(self, message: str, status: int, error_code: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


class ClientError(AnsweredError):
    """A request the service refuses."""

    def __init__(self, message: str, status: int = 400, error_code: str = "BAD_REQUEST") -> None:
        super().__init__(message, status, error_code)


def bad_request(message: str) -> ClientError:
    return ClientError(message, 400, "BAD_REQUEST")


def invalid_value(message: str) -> ClientError:
    return ClientError(message, 400, "INVALID_PARAMETER_VALUE")


def too_large(message: str) -> ClientError:
    return ClientError(message, 413, "RESOURCE_LIMIT_EXCEEDED")


def unsupported_media(message: str) -> ClientError:
    return ClientError(message, 415, "BAD_REQUEST")


class NotReadyError(Exception):
    """No model is serving yet (or any more); answered with 503 and the reason."""


class ModelError(AnsweredError):
    """A model raised while scoring input its signature accepted: 500 `INTERNAL_ERROR`.

    Without a signature nothing tells an input fault from a model fault, and the status is MLflow's 400
    `BAD_REQUEST`. Either way it is counted in `model_errors_total`.
    """

    def __init__(self, message: str, status: int = 500, error_code: str = "INTERNAL_ERROR") -> None:
        super().__init__(message, status, error_code)
