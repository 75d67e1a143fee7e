"""Data sources: `load_data(name, **options)` -> ImageData (uint8 images, optional labels).

Importing this package registers every built-in source: digits, mnist,
fashion-mnist, cifar10, folder, stacked-mnist, and the 2-D point mixtures ring and
grid.
"""

from __future__ import annotations

# Imported for their @register_data_source side effect.
from ganforge.data import cifar, digits, folder, idx, paired, sr, stacked, toy, unpaired  # noqa: F401
from ganforge.data.base import ImageData, to_float, to_uint8
from ganforge.data.folder import default_data_root
from ganforge.data.paired import PairedData
from ganforge.data.points import GaussianMixture, PointData, is_point_data
from ganforge.data.registry import DATA_SOURCES, list_data_sources, load_data, register_data_source
from ganforge.data.unpaired import UnpairedData

__all__ = [
    "DATA_SOURCES",
    "GaussianMixture",
    "PairedData",
    "PointData",
    "is_point_data",
    "ImageData",
    "default_data_root",
    "list_data_sources",
    "load_data",
    "register_data_source",
    "to_float",
    "to_uint8",
    "UnpairedData",
]
