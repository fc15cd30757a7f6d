"""How much an upload may hold and how long reading it may take. The defaults suit a municipal layer upload
(a few hundred thousand features at most); tests and callers pass smaller or larger ones."""
from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    max_upload_bytes: int = 300 * MB       # any uploaded file
    max_json_bytes: int = 100 * MB         # GeoJSON is parsed as a whole: refused above this
    max_text_bytes: int = 100 * MB         # CSV, read in this process
    max_zip_members: int = 100
    max_unzipped_bytes: int = 1024 * MB    # sum of the members we extract (declared and streamed)
    max_zip_ratio: int = 200               # a member expanding more than this is treated as a zip bomb
    max_features: int = 300_000
    max_fields: int = 250
    timeout_seconds: float = 120.0         # wall time of the GDAL child process
    cpu_seconds: int = 120
    memory_bytes: int = 3 * 1024 * MB      # address space of the GDAL child process (RLIMIT_AS)
    max_output_bytes: int = 2048 * MB      # what the child may write (its JSON result)
    max_listed_problems: int = 10          # bad rows listed in the error message


DEFAULT_LIMITS = ReadLimits()
