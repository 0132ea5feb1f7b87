"""Reading mloop.yaml safely: bounded size and expansion, plain keys, and errors that never
quote the file."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest
import yaml
from conftest import classification_manifest, run_in_process, train_args, write_model_dir
from mloop_runtime.errors import InvalidManifest
from mloop_runtime.manifest import load_manifest
from mloop_runtime.manifest_yaml import MAX_MANIFEST_BYTES

VALID = yaml.safe_dump(classification_manifest(), sort_keys=False)


def alias_bomb(levels: int) -> str:
    """A valid manifest whose params hold a "billion laughs": each level lists the previous
    one ten times, so 7 levels are 10**8 strings once expanded, in about 1 KB."""
    lines = ["params:", '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]")
    manifest = {k: v for k, v in classification_manifest().items() if k != "params"}
    return yaml.safe_dump(manifest, sort_keys=False) + "\n".join(lines) + "\n"


def refusal(tmp_path: Path, text: str | bytes) -> str:
    model_dir = write_model_dir(tmp_path / "model", VALID)
    manifest = model_dir / "mloop.yaml"
    if isinstance(text, bytes):
        manifest.write_bytes(text)
    else:
        manifest.write_text(text)
    with pytest.raises(InvalidManifest) as info:
        load_manifest(model_dir)
    assert info.value.exit_code == 2
    return info.value.message


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    text = alias_bomb(7)
    assert len(text) < 1500
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    message = refusal(tmp_path, text)
    seconds = time.monotonic() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"alias bomb of {len(text)} bytes, 7 levels: refused in {seconds * 1000:.1f} ms, +{grown_mb:.0f} MB")
    assert "expands to more than 100000 values once its aliases are followed" in message
    assert "line " in message
    assert seconds < 1.0


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    text = VALID + "gates:\n  - &gate {metric: accuracy, threshold: 0.5}\n"
    text = text.replace("params:\n  C: 1.0\n", "params:\n  C: &c 1.0\n  C2: *c\n")
    model_dir = write_model_dir(tmp_path / "model", text)
    assert load_manifest(model_dir).params == {"C": 1.0, "C2": 1.0}


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID.replace("C: 1.0", "C: &loop [*loop]"))
    assert "an alias refers to a value that contains it" in message


def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID + "params: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested deeper than 64 levels" in message


def test_nesting_through_aliases_is_bounded_too(tmp_path: Path) -> None:
    # Each level nests the previous one once: 100 levels deep, only 200 nodes.
    lines = ["params:", "  d0: &d0 [x]"] + [f"  d{i}: &d{i} [*d{i - 1}]" for i in range(1, 100)]
    message = refusal(tmp_path, VALID.replace("params:\n  C: 1.0\n", "\n".join(lines) + "\n"))
    assert "nested deeper than 64 levels once its aliases are followed" in message


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID + "#" * MAX_MANIFEST_BYTES)
    assert message.endswith("larger than 256 KiB; a manifest is much smaller")


@pytest.mark.parametrize(
    ("text", "kind"),
    [("{[a, b]: 1}\n", "list"), ("? {a: 1}\n: 2\n", "mapping"), ("params:\n  ? [x]\n  : 1\n", "list")],
)
def test_a_key_that_is_not_a_plain_name_is_an_invalid_manifest(tmp_path: Path, text: str, kind: str) -> None:
    message = refusal(tmp_path, text)
    assert f"a {kind} is used as a key; keys must be plain names" in message
    assert "line " in message


def test_a_non_scalar_key_exits_with_the_manifest_code_not_a_crash(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", VALID + "{[a]: 1}: x\n")
    csv = tmp_path / "data.csv"
    csv.write_text("x1,x2,site,label\n1,2,a,0\n")
    run = run_in_process(train_args(model_dir, csv, tmp_path / "out"))
    assert run.exit_code == 2
    assert run.last["kind"] == "InvalidManifest"


def test_yaml_errors_give_the_line_but_never_quote_the_file(tmp_path: Path) -> None:
    secret = "DB_PASSWORD: s3cr3t-value: here"
    message = refusal(tmp_path, f"name: pm\n{secret}\n")
    assert "s3cr3t" not in message and "DB_PASSWORD" not in message
    assert "not valid YAML: line 2, column 26: mapping values are not allowed here" in message


def test_a_manifest_linking_out_of_the_model_dir_is_refused_unread(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("name: DB_PASSWORD=s3cr3t\n")
    model_dir = write_model_dir(tmp_path / "model", VALID)
    (model_dir / "mloop.yaml").unlink()
    os.symlink(secrets, model_dir / "mloop.yaml")
    with pytest.raises(InvalidManifest) as info:
        load_manifest(model_dir)
    assert "a symlink leading out of the model directory" in info.value.message
    assert "s3cr3t" not in info.value.message


def test_long_values_are_described_not_quoted(tmp_path: Path) -> None:
    long_name = "Secret" + "x" * 500
    message = refusal(tmp_path, yaml.safe_dump(classification_manifest(name=long_name, task=["a"] * 50)))
    assert long_name[:20] not in message
    assert "got a string of 506 characters" in message
    assert "got a list of 50 items" in message


def test_a_long_unknown_key_is_cut_short(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID + "K" * 300 + ": 1\n")
    assert "field '" + "K" * 40 + "…': unknown field" in message
    assert "K" * 41 not in message


def test_bytes_that_are_not_utf8_are_reported_by_offset(tmp_path: Path) -> None:
    message = refusal(tmp_path, b"name: pm\n\xff\xfe")
    assert message.endswith("not UTF-8 text (invalid byte at offset 9)")
