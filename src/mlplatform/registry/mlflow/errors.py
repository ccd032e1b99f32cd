"""MLflow and HTTP failures become our RegistryError here, once, naming the server and a fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlplatform.errors import RegistryError
from mlplatform.redact import redact, redact_uri


@contextlib.contextmanager
def mlflow_errors(action: str, tracking_uri: str) -> Iterator[None]:
    """Turn MLflow/HTTP failures during `action` into a RegistryError naming the server."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    tracking_uri = redact_uri(tracking_uri)
    try:
        yield
    except SQLAlchemyError as exc:  # the embedded store: a full disk, a locked or damaged file
        cause = getattr(exc, "orig", None) or exc
        message = redact((str(cause).strip().splitlines() or [type(exc).__name__])[0])
        raise RegistryError(f"cannot {action} in {tracking_uri}: {message}", fix_for(tracking_uri)) from None
    except MlflowException as exc:
        message = redact((exc.message or str(exc)).strip().splitlines()[0])
        if "unsupported URI" in message or "Could not find a registered" in message:
            raise RegistryError(
                f"cannot {action}: tracking URI {tracking_uri} is not supported ({message})",
                "for a SageMaker MLflow ARN install the AWS extra: pip install 'mlplatform[aws]'",
            ) from None
        raise RegistryError(f"cannot {action} at {tracking_uri}: {message}", fix_for(tracking_uri)) from None
    except OSError as exc:  # requests' ConnectionError is an OSError
        raise RegistryError(
            f"cannot {action}: MLflow at {tracking_uri} is unreachable ({type(exc).__name__})",
            fix_for(tracking_uri),
        ) from None


def fix_for(tracking_uri: str) -> str:
    if tracking_uri.startswith("sqlite:"):
        return "check that the state directory (MLPLATFORM_HOME) is writable, has free space and is local"
    return "check MLFLOW_TRACKING_URI and that the server is up (mlplatform check)"
