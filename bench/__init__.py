"""bench: a bilingual (English + Chinese) evaluation benchmark suite.

Importing ``bench`` is cheap and has no side effects: it imports neither torch nor datasets and
scans no task folder. The command line is ``bench`` (see ``bench --help``); the main Python
entry points are :func:`bench.runner.run_plan`, :func:`bench.spec.load_task` and
:func:`bench.catalog.select_tasks`.
"""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    # The version is read from the installed metadata on first use: importlib.metadata costs
    # ~50 ms to import, which `bench --help` need not pay.
    if name == "__version__":
        from importlib import metadata

        try:
            version = metadata.version("bench")
        except metadata.PackageNotFoundError:  # running from a source tree without installing
            version = "0.0.0+unknown"
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module 'bench' has no attribute '{name}'")
