"""Exceptions raised on bad input.

Every error names what is wrong and where (file, key, feature or row), and what
to do. Callers may catch :class:`GeoInputError` broadly, or the specific class;
each also subclasses the matching built-in (``ValueError``, ``OSError``).

The command line turns every :class:`GeoInputError` into one line on standard
error and exit code 2 (:data:`EXIT_BAD_INPUT`); anything else is an internal
error, exit code 1.

=====================  ==================================================  ============
class                  raised when                                         built-in
=====================  ==================================================  ============
ProjectFileError       ``project.toml`` missing, not TOML, key wrong       ValueError
CriteriaFileError      a criteria set does not follow its schema           ValueError
LayerReadError         a layer or table file is missing or unreadable      OSError
EmptyInputError        a file or layer holds no features or rows           OSError
ValidationError        content unusable (fields, ids, values)              ValueError
NoCrsError             a layer has no CRS                                  ValueError
CrsError               a CRS puts the data outside Vietnam or the          ValueError
                       province, VN-2000 without datum shift, swapped axes
GeometryError          geometry type, empty or unrepairable geometry       ValueError
NumberFormatError      a count is not a number, or negative                ValueError
JoinError              a table cannot be joined (missing, repeated keys)   ValueError
GeographicCrsError     an area or length asked for in degrees              ValueError
OutputError            the output folder cannot be written or is busy      OSError
=====================  ==================================================  ============
"""

from __future__ import annotations

EXIT_OK = 0
"""Exit code: the run finished (whatever the verdicts)."""
EXIT_INTERNAL = 1
"""Exit code: a bug in geo; rerun with ``--debug`` and report it."""
EXIT_BAD_INPUT = 2
"""Exit code: bad input (project file, data, output folder); the message says what to fix."""


class GeoInputError(Exception):
    """Base class of every error caused by the user's input (exit code 2)."""


class ProjectFileError(GeoInputError, ValueError):
    """The project file is missing, unreadable, or a key is wrong."""


class CriteriaFileError(GeoInputError, ValueError):
    """A criteria set file does not follow the schema."""


class LayerReadError(GeoInputError, OSError):
    """A layer or table file cannot be found or read."""


class EmptyInputError(LayerReadError):
    """A file, layer or sheet was read but holds no features or rows."""


class ValidationError(GeoInputError, ValueError):
    """A layer or table was read but its content is unusable."""


class NoCrsError(ValidationError):
    """A layer has no coordinate reference system and none was given."""


class CrsError(ValidationError):
    """A layer's CRS is wrong for its coordinates.

    Raised when the data lands outside Vietnam or outside the stated province,
    when a VN-2000 TM-3 CRS lacks the datum shift to WGS 84 (the "internal"
    variant, about 200 m off), or when x and y look swapped.
    """


class GeometryError(ValidationError):
    """A geometry does not fit its layer, is empty, or cannot be repaired safely."""


class NumberFormatError(ValidationError):
    """A count (population, households) is not a number, or is negative."""


class GeographicCrsError(GeoInputError, ValueError):
    """An area or length was asked for in a geographic (degree) CRS."""


class JoinError(ValidationError):
    """A table cannot be joined to its layer (missing or ambiguous keys)."""


class OutputError(GeoInputError, OSError):
    """The output folder cannot be written, or another run holds it too long."""
