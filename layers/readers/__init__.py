"""Turning an untrusted upload (GeoJSON, GeoPackage, zipped Shapefile, KML, GML/CityGML, CSV) into clean
features in EPSG:6668. See DESIGN.md "Untrusted files": the driver is chosen by us, GDAL runs in a limited
child process on a scratch copy, and any bad row refuses the whole file."""
from layers.readers.limits import DEFAULT_LIMITS, ReadLimits
from layers.readers.result import FieldGuess, ReadResult
from layers.readers.upload import read_upload

__all__ = ["DEFAULT_LIMITS", "FieldGuess", "ReadLimits", "ReadResult", "read_upload"]
