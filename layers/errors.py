"""The one family of exceptions raised by the production chain.

Every error names what a data team needs to fix it: the file, the line (source row
number, header = line 1), the field and a message in French. ``server`` maps these
classes to HTTP status codes in one table; the CLI prints ``str(error)`` on one line.
"""

from __future__ import annotations

from pathlib import Path


class GeocommuneError(Exception):
    """Base class: a user-facing problem (never a bug)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f", ligne {self.line}"
            where += " : "
        elif self.line is not None:
            where = f"ligne {self.line} : "
        field = f"champ « {self.field} » : " if self.field else ""
        return f"{where}{field}{self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "field": self.field,
        }


class CatalogueError(GeocommuneError):
    """The layer catalogue (config/catalogue.yaml) is missing or malformed."""


class UnknownLayerError(GeocommuneError):
    """A layer id that the catalogue does not declare."""


class InputFileError(GeocommuneError):
    """A source file that is missing, unreadable, empty or of an unknown format."""


class CRSError(GeocommuneError):
    """A coordinate reference system that is unknown or cannot be detected."""


class SchemaError(GeocommuneError):
    """A national schema file that cannot be loaded, or a source that does not match it at all."""


class ValidationFailed(GeocommuneError):
    """A strict ingestion refused: the file does not fully conform. Carries the report."""

    def __init__(self, message: str, report: object, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.report = report


class PublicationError(GeocommuneError):
    """Publication to the store failed; the previously published layer is left in place."""


class StoreError(GeocommuneError):
    """The store is unreachable or does not hold the requested layer."""
