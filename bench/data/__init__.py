"""Data sources → ``datasets.Dataset``, with field mapping, seeded splits and fingerprints.

Sources (``source.kind`` in a task file):

* ``builtin`` — files shipped inside the package (``bench/builtin/<location>``), the smoke suite;
* ``local`` — JSON, JSONL, CSV, TSV, Parquet, plain-text files (one example per line) or folders
  of text files (``text-files``: one example per file, the label is the parent folder's name);
* ``hub`` — ``datasets.load_dataset(location, name, split=..., revision=...)``;
* ``url`` — files downloaded from a base URL and checked against their pinned SHA-256.

``--data NAME=PATH`` replaces a task's source by a local copy of its original release (the
layout in ``source.original``), which is how people evaluate behind a firewall.

Every split is reduced to the family's canonical columns (``id`` plus the family's fields),
checked row by row (the first bad row is named with its file, row and field), and fingerprinted
by content.

Modules, one job each:

* :mod:`~bench.data.overrides` — ``--data NAME=PATH`` (:func:`resolve_source`);
* :mod:`~bench.data.files` — where a source's files are, checked against their pins;
* :mod:`~bench.data.downloads` — URLs, archives, the hub and sacrebleu's test sets;
* :mod:`~bench.data.readers` — formats (json, jsonl, csv, tsv, parquet, text, original-release
  layouts such as SQuAD JSON and XSum extracts);
* :mod:`~bench.data.fields` — raw columns → the family's fields;
* :mod:`~bench.data.checks` — row checks (family rules, ids, repeated ids);
* :mod:`~bench.data.tables` — side tables (e.g. recommendation item tables);
* :mod:`~bench.data.fingerprint` — file content digests and dataset fingerprints;
* :mod:`~bench.data.splits` — one role's split, composing the above (:func:`load_split`).
"""

from bench.data.checks import row_name
from bench.data.files import BUILTIN_ROOT
from bench.data.fingerprint import dataset_fingerprint
from bench.data.overrides import resolve_source
from bench.data.splits import LoadedSplit, load_split, parse_split
from bench.data.tables import LoadedTable, load_table

__all__ = [
    "BUILTIN_ROOT",
    "LoadedSplit",
    "LoadedTable",
    "dataset_fingerprint",
    "load_split",
    "load_table",
    "parse_split",
    "resolve_source",
    "row_name",
]
