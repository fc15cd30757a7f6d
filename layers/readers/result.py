"""What a reader hands back, and the collector of row problems that makes reading all-or-nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from machihub.errors import Invalid


@dataclass(frozen=True)
class FieldGuess:
    name: str            # a name the layer schema accepts (letters, digits, _), unique
    type: str            # string | integer | number | boolean | date | datetime
    source: str = ""     # the column name in the file, when it had to be changed


@dataclass
class ReadResult:
    features: list[tuple[Any, dict[str, Any]]]   # (shapely geometry in EPSG:6668, properties)
    fields: list[FieldGuess]
    source_crs: str | None                        # 'EPSG:6677' or WKT
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None                   # 'UTF-8', 'CP932', … (text and DBF attributes)
    format: str = ""                              # geojson | gpkg | shapefile | kml | gml | csv
    layer: str | None = None                      # the layer read, for multi-layer formats


@dataclass
class Table:
    """What a format reader produces before the shared checks: geometries already in EPSG:6668 (None where
    the row was bad and already reported), typed properties, and a label per row for messages."""
    geometries: list[Any]
    rows: list[dict[str, Any]]
    labels: list[str]
    fields: list[FieldGuess]
    source_crs: str | None
    encoding: str | None
    format: str
    layer: str | None = None
    notes: list[str] = field(default_factory=list)


class Problems:
    """Collects bad rows; raise_if_any() refuses the whole file and lists the first few."""

    def __init__(self, file_name: str, limit: int = 10) -> None:
        self.file_name, self.limit = file_name, limit
        self.items: list[str] = []
        self.count = 0

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(f"{where}: {message}" if where else message)

    def add_invalid(self, where: str, exc: Invalid) -> None:
        message = exc.message
        # gis functions already say 'row N: …'; keep our richer label ('row N (line M)') instead.
        if message.startswith("row ") and ": " in message:
            message = message.split(": ", 1)[1]
        self.add(where, message)

    def raise_if_any(self) -> None:
        if not self.count:
            return
        if self.count == 1:
            text = f"{self.file_name}: {self.items[0]}"
        else:
            more = "; …" if self.count > len(self.items) else ""
            text = f"{self.file_name}: {self.count} bad rows, nothing imported: {'; '.join(self.items)}{more}"
        raise Invalid(text, details={"file": self.file_name, "count": self.count, "problems": self.items})
