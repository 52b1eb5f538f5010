"""bench.spec: the task-file schema, its error messages and its JSON Schema export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bench.errors import TaskSpecError
from bench.spec import TaskSpec, load_task, parse_task, task_json_schema

REPO = Path(__file__).resolve().parents[2]
SMOKE_EN = REPO / "tasks" / "smoke" / "sentiment-en.yaml"
TASK_FILES = sorted((REPO / "tasks").rglob("*.yaml"))
SPLITS = "splits: {train: train, test: test}"


@pytest.fixture(scope="module")
def base_text() -> str:
    return SMOKE_EN.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "sentiment-en") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence, so a test cannot silently test the unedited file."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def spec_error(path: Path) -> str:
    with pytest.raises(TaskSpecError) as info:
        load_task(path)
    message = str(info.value)
    assert str(path) in message, f"the error does not name the file: {message}"
    return message


def line_of(text: str, needle: str) -> int:
    """1-based line number of the only line that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# --------------------------------------------------------------------------- valid files


def test_valid_task_parses_into_a_frozen_spec(tmp_path: Path, base_text: str) -> None:
    spec = load_task(write(tmp_path, base_text), suite="mine")
    assert spec.name == "sentiment-en"
    assert spec.version == 1
    assert spec.family == "sentiment"
    assert spec.languages == ["en"] and spec.language == "en"
    assert spec.labels == ["negative", "positive"]
    assert spec.suite == "mine" and spec.path == tmp_path / "sentiment-en.yaml"
    assert spec.source.kind == "builtin" and spec.source.format == "jsonl"
    assert spec.source.files == {"train": "train.jsonl", "test": "test.jsonl"}
    assert [s.name for s in spec.preprocess] == [
        "unicode_nfkc",
        "strip_html",
        "collapse_whitespace",
        "en_tokenize",
    ]
    assert [m.name for m in spec.metrics] == [
        "accuracy",
        "macro_f1",
        "per_class",
        "mcc",
        "confusion_matrix",
        "ece",
    ]
    assert spec.metrics[-1].params == {"bins": 15}
    assert spec.metrics[0].params == {}
    assert spec.primary_metric == "accuracy"
    assert spec.prompts is not None and "{{ text }}" in spec.prompts[0].template
    with pytest.raises(ValidationError):
        spec.version = 2  # type: ignore[misc]


def test_hashes_are_stable_and_follow_the_content(tmp_path: Path, base_text: str) -> None:
    a = load_task(write(tmp_path, base_text))
    b = parse_task(base_text)
    assert a.spec_hash() == b.spec_hash()
    assert a.preprocess_hash() == b.preprocess_hash()
    assert a.prompt_hash() == b.prompt_hash() is not None
    c = parse_task(edit(base_text, "  - collapse_whitespace\n", ""))
    assert c.preprocess_hash() != a.preprocess_hash()
    d = parse_task(edit(base_text, "ece: {bins: 15}", "ece: {bins: 10}"))
    assert d.spec_hash() != a.spec_hash()
    assert d.preprocess_hash() == a.preprocess_hash()


def test_long_forms_of_steps_and_metrics_are_accepted(base_text: str) -> None:
    text = edit(base_text, "  - ece: {bins: 15}", "  - {name: ece, params: {bins: 12}}")
    text = edit(text, "  - strip_html\n", "  - strip_html:\n")  # null params
    spec = parse_task(text)
    assert spec.metrics[-1].name == "ece" and spec.metrics[-1].params == {"bins": 12}
    assert spec.preprocess[1].name == "strip_html" and spec.preprocess[1].params == {}


def test_check_names_false_skips_the_registry(tmp_path: Path, base_text: str) -> None:
    path = write(tmp_path, edit(base_text, "family: sentiment", "family: no-such-family"))
    assert load_task(path, check_names=False).family == "no-such-family"
    with pytest.raises(TaskSpecError, match="unknown family 'no-such-family'"):
        load_task(path)


# --------------------------------------------------------------------------- YAML errors


def test_invalid_yaml_names_file_line_and_column(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "languages: [en]", "languages: [en")
    message = spec_error(write(tmp_path, text))
    assert "invalid YAML" in message
    # The flow sequence opened on line 4 runs into the mapping key on line 5.
    assert re.search(r"line 5, column \d+", message), message


def test_tab_indentation_is_a_yaml_error_with_its_position(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "  kind: builtin", "\tkind: builtin")
    message = spec_error(write(tmp_path, text))
    line = line_of(text, "\tkind")
    assert f"line {line}, column 1" in message, message


def test_python_tags_are_refused_without_running_them(tmp_path: Path, base_text: str) -> None:
    marker = tmp_path / "MARKER"
    evil = f'description: !!python/object/apply:os.system ["echo hi > {marker}"]\n'
    text = edit(base_text, "license: Apache-2.0\n", "license: Apache-2.0\n" + evil)
    message = spec_error(write(tmp_path, text))
    assert not marker.exists(), "the YAML tag was executed"
    assert "invalid YAML" in message and "python/object/apply" in message
    assert f"line {line_of(text, 'description: !!python')}" in message
    # The same file through parse_task (no path) is refused the same way.
    with pytest.raises(TaskSpecError, match="<task>"):
        parse_task(text)
    assert not marker.exists()


def test_a_task_file_must_be_a_mapping(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "- sentiment-en\n- version: 1\n"))
    assert "must be a YAML mapping" in message and "list" in message
    assert "mapping" in spec_error(write(tmp_path, "", name="empty"))


def test_missing_and_non_utf8_files(tmp_path: Path, base_text: str) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(TaskSpecError, match=re.escape(f"{missing}: no such task file")):
        load_task(missing)
    path = tmp_path / "sentiment-en.yaml"
    path.write_bytes(base_text.replace("Apache-2.0", "许可").encode("gb18030"))
    assert "not UTF-8" in spec_error(path)


# --------------------------------------------------------------------------- schema errors


def test_unknown_top_level_key_has_line_and_did_you_mean(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "version: 1\n", "version: 1\nverison: 2\n")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'verison')}: field 'verison'" in message
    assert "unknown key 'verison' (did you mean 'version'?)" in message
    assert "allowed: name, version" in message


def test_unknown_nested_key_has_dotted_field_and_did_you_mean(
    tmp_path: Path, base_text: str
) -> None:
    text = edit(base_text, "  kind: builtin\n", "  kind: builtin\n  fieldz: {text: text}\n")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, '  fieldz')}: field 'source.fieldz'" in message
    assert "(did you mean 'fields'?)" in message


def test_unknown_key_two_levels_down(tmp_path: Path, base_text: str) -> None:
    original = "  original: {format: tsv, files: {test: dev.tsv}, splitz: {test: test}}\n"
    text = edit(base_text, "  kind: builtin\n", "  kind: builtin\n" + original)
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, '  original')}: field 'source.original.splitz'" in message
    assert "(did you mean 'splits'?)" in message


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ("version: 1", "version: one", "version", "valid integer"),
        ("version: 1", "version: 0", "version", "greater than or equal to 1"),
        ("languages: [en]", "languages: en", "languages", "valid list"),
        ("languages: [en]", "languages: [English]", "languages", "not a language code"),
        ("languages: [en]", "languages: []", "languages", "at least 1"),
        (
            "  kind: builtin",
            "  kind: builtn",
            "source.kind",
            "'builtin', 'local', 'hub', 'url' or 'sacrebleu'",
        ),
        ("  format: jsonl", "  format: xlsx", "source.format", "'json', 'jsonl'"),
        (SPLITS, "splits: {train: train}", "source.splits", "'test'"),
        (SPLITS, "splits: {train: 'a[b', test: test}", "source.splits", "'a[b'"),
        (SPLITS, "splits: {dev: x, test: test}", "source.splits.dev", "'train'"),
        ("name: sentiment-en", "name: Sentiment En", "name", "should match pattern"),
        ("tags: [smoke]", "tags: smoke", "tags", "valid list"),
        ("  - unicode_nfkc", "  - [unicode_nfkc]", "preprocess[0]", "valid dictionary"),
    ],
)  # fmt: skip
def test_wrong_types_name_the_field_and_its_line(
    tmp_path: Path, base_text: str, old: str, new: str, field: str, needle: str
) -> None:
    text = edit(base_text, old, new)
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, new)}: field '{field}': " in message, message
    assert needle in message, message


def test_a_local_source_needs_format_and_files(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "  format: jsonl\n", "")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'source:')}: field 'source'" in message
    assert "needs 'format'" in message


def test_missing_required_field(tmp_path: Path, base_text: str) -> None:
    text = re.sub(r"description: >-\n(  .*\n)+", "", base_text)
    assert "description" not in text
    message = spec_error(write(tmp_path, text))
    assert "field 'description': required field is missing" in message


def test_missing_nested_required_field(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "  location: smoke/sentiment-en\n", "")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'source:')}: field 'source'" in message
    assert "a 'builtin' source needs 'location'" in message


def test_several_errors_are_all_reported(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "version: 1\n", "version: x\nverison: 2\n")
    message = spec_error(write(tmp_path, text))
    assert message.startswith("2 errors:")
    assert "field 'version'" in message and "field 'verison'" in message


def test_primary_metric_not_in_metrics(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "primary_metric: accuracy", "primary_metric: acuracy")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'primary_metric')}: field 'primary_metric'" in message
    assert "'acuracy' is not in metrics" in message
    assert "(did you mean 'accuracy'?)" in message


def test_duplicate_metric_names(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "  - mcc\n", "  - accuracy\n")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'metrics:')}: field 'metrics'" in message
    assert "'accuracy' is listed twice (metrics[0] and metrics[3])" in message


def test_duplicate_labels(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "labels: [negative, positive]", "labels: [negative, negative]")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'labels:')}: field 'labels'" in message
    assert "listed twice" in message


def test_name_must_equal_the_file_stem(tmp_path: Path, base_text: str) -> None:
    path = write(tmp_path, base_text, name="sentiment-fr")
    message = spec_error(path)
    assert "line 1: field 'name'" in message
    assert "'sentiment-en' differs from the file name 'sentiment-fr'" in message
    assert "rename the file to sentiment-en.yaml" in message
    # Without a path there is no stem to compare with.
    assert parse_task(base_text).name == "sentiment-en"


# --------------------------------------------------------------------------- registry names


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        ("family: sentiment", "family: sentimnt", "family", "unknown family 'sentimnt'"),
        ("  - strip_html\n", "  - strip_htm\n", "preprocess[1]", "unknown step 'strip_htm'"),
        ("  - mcc\n", "  - mcx\n", "metrics[3]", "unknown metric 'mcx'"),
    ],
)
def test_unknown_registry_names_have_did_you_mean(
    tmp_path: Path, base_text: str, old: str, new: str, field: str, expected: str
) -> None:
    text = edit(base_text, old, new)
    message = spec_error(write(tmp_path, text))
    bad = new.strip().removeprefix("- ").removeprefix("family: ")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.endswith(bad))
    assert f"line {line}: field '{field}': {expected}" in message, message
    correct = old.strip().removeprefix("- ").removeprefix("family: ")
    assert f"(did you mean '{correct}'?)" in message
    assert "use one of:" in message


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        ("ece: {bins: 15}", "ece: {binz: 15}", "metrics[5].ece", "binz: unknown parameter"),
        ("ece: {bins: 15}", "ece: {bins: many}", "metrics[5].ece", "bins: Input should be"),
        (
            "  - strip_html\n",
            "  - truncate: {max_tokenz: 5}\n",
            "preprocess[1].truncate",
            "max_tokenz: unknown parameter (did you mean 'max_tokens'?)",
        ),
        (
            "  - strip_html\n",
            "  - strip_html: 3\n",
            "preprocess[1]",
            "the params of step 'strip_html' must be a mapping",
        ),
        (
            "  - strip_html\n",
            "  - strip_html: {fields: text}\n",
            "preprocess[1].strip_html",
            "fields: Input should be a valid list",
        ),
    ],
)
def test_bad_step_and_metric_params(
    tmp_path: Path, base_text: str, old: str, new: str, field: str, expected: str
) -> None:
    text = edit(base_text, old, new)
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, new.strip())}: field '{field}': {expected}" in message, message


def test_family_check_spec_errors_name_their_field(tmp_path: Path, base_text: str) -> None:
    text = edit(base_text, "labels: [negative, positive]", "labels: [negative]")
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'labels:')}: field 'labels'" in message
    assert "at least two labels" in message


# --------------------------------------------------------------------------- JSON Schema


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        schema = root["$defs"][ref.removeprefix("#/$defs/")]
    return schema


_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "null": type(None),
    "boolean": bool,
}


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "") -> list[str]:
    """A small JSON Schema validator for the keywords pydantic emits (used when the
    ``jsonschema`` package is not installed); returns the errors found."""
    schema = _resolve(schema, root)
    known = {
        "$ref", "$defs", "$schema", "anyOf", "type", "enum", "const", "properties", "required",
        "additionalProperties", "items", "minItems", "minLength", "minimum", "pattern",
        "propertyNames", "minProperties", "maxProperties", "not", "title", "description",
        "default",
    }  # fmt: skip
    unknown = set(schema) - known
    assert not unknown, f"the checker does not know {unknown}"
    errors: list[str] = []
    if "anyOf" in schema and all(check(value, s, root, at) for s in schema["anyOf"]):
        errors.append(f"{at}: matches none of anyOf")
    if "not" in schema and not check(value, schema["not"], root, at):
        errors.append(f"{at}: matches a 'not' schema")
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [*errors, f"{at}: not of type {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} not in enum")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: not {schema['const']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{at}: too short")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{at}: does not match {schema['pattern']}")
    if isinstance(value, int | float) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{at}: below minimum")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{at}: too few items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += check(item, schema["items"], root, f"{at}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if len(value) < schema.get("minProperties", 0):
            errors.append(f"{at}: too few properties")
        if len(value) > schema.get("maxProperties", len(value)):
            errors.append(f"{at}: too many properties")
        errors += [f"{at}.{k}: required" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if "propertyNames" in schema:
                errors += check(k, schema["propertyNames"], root, f"{at}.{k} (key)")
            if k in props:
                errors += check(v, props[k], root, f"{at}.{k}")
            else:
                extra = schema.get("additionalProperties", True)
                if extra is False:
                    errors.append(f"{at}.{k}: additional property")
                elif isinstance(extra, dict):
                    errors += check(v, extra, root, f"{at}.{k}")
    return errors


def _as_json(path: Path) -> Any:
    # What an editor sees: YAML keys such as 0 in label_map become strings in JSON.
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8"))))


def _validator(schema: dict[str, Any]) -> Any:
    """A function returning the schema errors of an instance (jsonschema when installed)."""
    try:
        import jsonschema
    except ImportError:
        return lambda value: check(value, schema, schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    return lambda value: [e.message for e in validator.iter_errors(value)]


def test_json_schema_is_json_and_closed() -> None:
    schema = task_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "path" not in schema["properties"] and "suite" not in schema["properties"]
    assert set(schema["required"]) >= {"name", "version", "family", "languages", "source"}
    file_keys = set(TaskSpec.model_fields) - {"path", "suite"}
    assert set(schema["properties"]) == file_keys
    # Every object with named properties anywhere in the schema is closed.
    closed = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, node.get("title")
                closed.append(node.get("title"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    assert {"SourceSpec", "PromptSpec", "OriginalRelease", "StepSpec", "MetricSpec"} <= set(closed)


@pytest.mark.parametrize("path", TASK_FILES, ids=[p.stem for p in TASK_FILES])
def test_json_schema_validates_the_real_task_files(path: Path) -> None:
    errors = _validator(task_json_schema())(_as_json(path))
    assert errors == [], errors


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda d: d.update(verison=2), "unknown top-level key"),
        (lambda d: d["source"].update(fieldz={}), "unknown nested key"),
        (lambda d: d.update(version="one"), "wrong type"),
        (lambda d: d.pop("source"), "missing required"),
        (lambda d: d["metrics"].append(3), "a metric that is neither a name nor a mapping"),
        (lambda d: d["metrics"].append({"a": {}, "b": {}}), "a two-key metric mapping"),
        (lambda d: d["preprocess"].append({"lowercase": 3}), "params that are not a mapping"),
        (lambda d: d["metrics"].append({"name": "x", "parms": {}}), "a misspelt long form"),
        (lambda d: d["source"].update(kind="ftp"), "an unknown source kind"),
        (lambda d: d["source"]["splits"].update(dev="dev"), "an unknown split role"),
    ],
)
def test_json_schema_rejects_what_the_loader_rejects(mutate: Any, why: str) -> None:
    data = _as_json(SMOKE_EN)
    mutate(data)
    assert _validator(task_json_schema())(data), f"the schema accepts {why}"
    with pytest.raises(TaskSpecError):
        parse_task(yaml.safe_dump(data, allow_unicode=True))


def test_duplicate_yaml_keys_are_refused(tmp_path: Path, base_text: str) -> None:
    # safe_load alone keeps the last value silently.
    text = edit(base_text, "primary_metric: accuracy", "primary_metric: accuracy\nversion: 3")
    assert yaml.safe_load(text)["version"] == 3
    message = spec_error(write(tmp_path, text))
    assert f"line {line_of(text, 'version: 3')}: field 'version'" in message
    assert "given twice (first on line 2)" in message
    nested = edit(base_text, "  format: jsonl", "  format: jsonl\n  format: csv")
    message = spec_error(write(tmp_path, nested))
    assert f"line {line_of(nested, 'format: csv')}: field 'source.format'" in message


# --------------------------------------------------------------------------- file layouts


def test_a_source_and_its_original_release_share_one_file_layout() -> None:
    from bench.spec import FileLayout, OriginalRelease, SourceSpec

    layout = set(FileLayout.model_fields)
    assert layout <= set(SourceSpec.model_fields) and layout <= set(OriginalRelease.model_fields)
    source = SourceSpec.model_validate(
        {
            "kind": "local",
            "location": "data",
            "format": "tsv",
            "files": {"dev": ["a.tsv", "b.tsv"]},
            "columns": ["label", "text"],
            "delimiter": "|",
            "encoding": "gb18030",
            "label_map": {0: "negative", 1: "positive"},
            "sha256": {"a.tsv": "0" * 64},
            "splits": {"test": "dev"},
        }
    )
    original = source.original_release()
    assert original is not None
    # Every layout field reaches the release read with --data, including ones added later.
    assert original.layout() == source.layout()
    assert original.label_map == {"0": "negative", "1": "positive"}
    assert (original.splits, original.fields) == (None, None)


def test_an_original_release_needs_a_format_and_files(tmp_path: Path, base_text: str) -> None:
    for missing in ("format", "files"):
        release = {"format": "tsv", "files": {"test": "dev.tsv"}}
        del release[missing]
        line = f"  original: {json.dumps(release)}\n"
        text = edit(base_text, "  kind: builtin\n", "  kind: builtin\n" + line)
        assert f"field 'source.original.{missing}'" in spec_error(write(tmp_path, text))
    bad_role = "  original: {format: tsv, files: {dev: dev.tsv}, splits: {tset: dev}}\n"
    text = edit(base_text, "  kind: builtin\n", "  kind: builtin\n" + bad_role)
    assert "source.original.splits" in spec_error(write(tmp_path, text))
