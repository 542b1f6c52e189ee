"""spherecode: hyperspherical prototypes and coding theory.

>>> import spherecode as sc
>>> cb = sc.generate(10, 9, method="simplex")
>>> round(cb.max_cosine, 12)
-0.111111111111
"""

from ._version import __version__
from .analysis import SeparationReport, analyze
from .codebook import Codebook
from .constructions import CONSTRUCTIONS, generate
from .errors import CodebookFileError, SpherecodeError
from .geometry import GeometryReport, geometry_report

__all__ = [
    "CONSTRUCTIONS",
    "Codebook",
    "CodebookFileError",
    "GeometryReport",
    "SeparationReport",
    "SpherecodeError",
    "__version__",
    "analyze",
    "generate",
    "geometry_report",
]
