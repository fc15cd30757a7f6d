"""FAQ tests. `load_bench()`: the benchmark module (bench/faq.py), whose metrics and baseline the tests reuse."""
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "faq.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("faq_bench", BENCH)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
