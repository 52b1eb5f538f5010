"""bench: a bilingual (English + Chinese) evaluation benchmark suite.

Importing ``bench`` is cheap and has no side effects: it imports neither torch nor datasets and
scans no task folder. The command line is ``bench`` (see ``bench --help``); the main Python
entry points are :func:`bench.runner.run_plan`, :func:`bench.spec.load_task` and
:func:`bench.catalog.select_tasks`.
"""

from importlib import metadata

try:
    __version__ = metadata.version("bench")
except metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
