"""Reading encoded DICOM data sets strictly: the structure of every element
(:mod:`pipeline.dicomio.structure`) and the Pixel Data against the image geometry
(:mod:`pipeline.dicomio.pixels`). The node's receive, its restart reconciliation and the
pipeline use this one reader.
"""

from pipeline.dicomio.part10 import Part10, Part10Error, check_part10, split_part10
from pipeline.dicomio.pixels import (
    GEOMETRY_TAGS,
    ImageGeometry,
    PixelDataError,
    check_pixel_data,
)
from pipeline.dicomio.structure import (
    DataSetLayout,
    Element,
    PixelData,
    StructureError,
    walk_data_set,
)

__all__ = [
    "GEOMETRY_TAGS",
    "DataSetLayout",
    "Element",
    "ImageGeometry",
    "Part10",
    "Part10Error",
    "PixelData",
    "PixelDataError",
    "StructureError",
    "check_part10",
    "check_pixel_data",
    "split_part10",
    "walk_data_set",
]
