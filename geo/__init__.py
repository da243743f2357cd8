"""Ward-status and hamlet-indicator mapper for Vietnamese communes.

The pipeline, one module per step::

    project → read → validate → join → indicators → criteria → outputs

Examples
--------
>>> import geo
>>> project = geo.load_project(geo.sample_project_dir())  # doctest: +SKIP
>>> result = geo.run(project)  # doctest: +SKIP
>>> geo.write_outputs(result, "maps/quyet-thang")  # doctest: +SKIP
"""

from geo import criteria as criteria
from geo import crs as crs
from geo import indicators as indicators
from geo import names as names
from geo.errors import GeoInputError as GeoInputError
from geo.outputs import write_outputs as write_outputs
from geo.pipeline import RunResult as RunResult
from geo.pipeline import run as run
from geo.project import Project as Project
from geo.project import load_project as load_project
from geo.resources import sample_project_dir as sample_project_dir

__version__ = "0.1.0"
