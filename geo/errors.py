"""Exceptions raised on bad input.

Every error names what is wrong and where (file, key, feature or row), and what
to do. Callers may catch :class:`GeoInputError` broadly, or the specific class;
each also subclasses the matching built-in (``ValueError``, ``OSError``).
"""

from __future__ import annotations


class GeoInputError(Exception):
    """Base class of every error caused by the user's input (exit code 2)."""


class ProjectFileError(GeoInputError, ValueError):
    """The project file is missing, unreadable, or a key is wrong."""


class CriteriaFileError(GeoInputError, ValueError):
    """A criteria set file does not follow the schema."""


class LayerReadError(GeoInputError, OSError):
    """A layer or table file cannot be found or read."""


class ValidationError(GeoInputError, ValueError):
    """A layer or table was read but its content is unusable."""


class NoCrsError(ValidationError):
    """A layer has no coordinate reference system and none was given."""


class GeographicCrsError(GeoInputError, ValueError):
    """An area or length was asked for in a geographic (degree) CRS."""


class JoinError(ValidationError):
    """A table cannot be joined to its layer (missing or ambiguous keys)."""
