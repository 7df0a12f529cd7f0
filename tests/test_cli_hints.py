"""The command line's help and error lines (spec/cli.md R-CLI-22, R-CLI-4) and searching an
index whose model moved (R-CLI-21)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import failed, lateint, ok

from lateint_ref.cli import entry, parser

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    top = parser.build()
    (commands,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


@pytest.mark.spec("R-CLI-22")
@pytest.mark.parametrize("command", parser.COMMANDS)
def test_help_shows_every_default(command: str) -> None:
    """R-CLI-22: `lateint COMMAND --help` shows "(default: VALUE)" in the help of every option
    that takes a value and has a default, for every command."""
    sub = _subparsers()[command]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert entry.main([command, "--help"]) == 0
    text = out.getvalue()
    entries = {}  # option -> its help entry, lines joined
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  -") and stripped.split()[0].rstrip(",") in sub._option_string_actions:
            current = stripped.split()[0].rstrip(",")
            entries[current] = stripped
        elif current is not None and line.startswith("      "):
            entries[current] += " " + stripped
        else:
            current = None
    checked = 0
    for action in sub._actions:
        if action.default in (None, argparse.SUPPRESS) or action.nargs == 0:
            continue
        name = action.option_strings[0]
        assert f"(default: {action.default})" in entries[name], (command, name, entries[name])
        checked += 1
    expected = {"index": 9, "add": 4, "search": 3, "eval": 3, "mine": 7, "encode": 4}
    assert checked == expected.get(command, checked)


@pytest.mark.spec("R-CLI-22")
def test_defaults_shown_for_the_options_that_have_them() -> None:
    """R-CLI-22: some defaults, literally, and no "(default: None)" or flag default anywhere."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        entry.main(["index", "--help"])
        entry.main(["mine", "--help"])
        entry.main(["train", "--help"])
    text = " ".join(out.getvalue().split())
    for shown in ("(default: 32)", "(default: 1000)", "(default: utf-8)", "(default: error)"):
        assert shown in text
    assert "(default: train)" in text  # mine --split
    assert "(default: None)" not in text
    assert "(default: False)" not in text


@pytest.mark.spec("R-CLI-4")
def test_each_hint_leads_its_message() -> None:
    """R-CLI-4: the table gives, by requirement ID and message, what to do; a command it is not
    for, or a message without a hint, gets none."""
    cases = {
        "R-INDEX-14: /x is being written by another writer": "wait until",
        "R-RET-3: the index at /x was built with {...}, not {...}": "index with the --model",
        "R-RET-3: /x exists and is not an index": "give --index a new or empty folder",
        "R-RET-7: none of the corpus's 12 documents is in the index": "pass --append",
        "R-RET-2: give a late-interaction model, or opt in": "pass --projection random",
        "R-RET-2: drop projection='random' (--projection random)": "drop --projection random",
        "R-CLI-9: no document judged in test.tsv of d is in the index": "evaluate with the index",
        "R-CLI-9: d: no query is judged in test": "check --split",
        "R-CLI-20: /x line 2: not utf-8 text (byte 0xe9 at offset 3)": "pass the corpus's",
        "R-CLI-20: encoding 'utf-16' cannot be read line by line": "convert the JSONL file",
        "R-RET-9: the model in /m (fingerprint ...) is not the one": "give --model the folder",
        "R-RET-9: the index ... records no fingerprint of its model": "index the corpus again",
    }
    for message, start in cases.items():
        found = entry.hint(message, "index")
        assert found is not None, message
        assert found.startswith(start), (message, found)
    assert entry.hint("R-RET-2: model folder not found: /m", "search") == (
        "pass --model DIR, the folder the model moved to"
    )
    assert entry.hint("R-RET-2: model folder not found: /m", "index") is None
    assert entry.hint("R-ENC-3: /m/config.json: file not found", "index") is None
    assert entry.hint("R-RET-70: none of the corpus's", "index") is None


@pytest.mark.spec("R-CLI-4", "R-RET-3")
def test_missing_index_and_other_settings_lead_with_what_to_do(tmp_path: Path) -> None:
    """R-CLI-4, R-RET-3: a missing --index folder of a command that reads an index says how to
    build one; an index built with other settings says to use them or another folder; both keep
    the message in parentheses, exactly one line."""
    message = failed(lateint("search", "--index", tmp_path / "absent", "q"), 1)
    assert message == (
        f"give --index an index folder, or build it with `lateint index CORPUS --model DIR "
        f"--index {tmp_path / 'absent'}` (R-CLI-4: {tmp_path / 'absent'}: No such file or "
        "directory)"
    )
    absent = tmp_path / "nope.jsonl"
    message = failed(lateint("index", absent, "--model", MODEL, "--index", tmp_path / "i"), 1)
    assert message == f"R-CLI-4: {absent}: No such file or directory"  # no hint: it is the corpus
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"_id": "a", "text": "green tea"}) + "\n")
    ok(lateint("index", docs, "--model", MODEL, "--index", tmp_path / "i"))
    message = failed(
        lateint("index", docs, "--model", MODEL, "--index", tmp_path / "i", "--nbits", 4), 1
    )
    assert message.startswith("index with the --model and settings the index was built with")
    assert "(R-RET-3: the index at" in message


@pytest.mark.spec("R-CLI-4", "R-CLI-21", "R-RET-2", "R-RET-9")
def test_search_and_eval_with_a_model_that_moved(tmp_path: Path) -> None:
    """R-CLI-21, R-RET-9, R-CLI-4: build with a model folder, move it: search fails saying to
    pass --model; `search --model NEW` gives the same hits as before the move and `eval --model
    NEW` runs; a model with one weight byte changed is refused with both fingerprints."""
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = [("d1", "cats purr at night"), ("d2", "dogs bark in the park"), ("d3", "green tea")]
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs)
    )
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "cats"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    index = tmp_path / "idx"
    ok(lateint("index", beir, "--model", model, "--index", index))
    before = json.loads(ok(lateint("search", "--json", "--index", index, "cats purr", "tea")))
    moved = tmp_path / "elsewhere" / "model"
    moved.parent.mkdir()
    model.rename(moved)
    message = failed(lateint("search", "--index", index, "cats purr"), 1)
    assert message.startswith("pass --model DIR, the folder the model moved to (R-RET-2: ")
    argv = ["search", "--json", "--index", index, "cats purr", "tea", "--model", moved]
    assert json.loads(ok(lateint(*argv))) == before
    scores = json.loads(
        ok(lateint("eval", "--json", "--index", index, "--dataset", beir, "--model", moved))
    )
    assert scores["n_queries"] == 1
    weights = moved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    message = failed(lateint("search", "--index", index, "cats purr", "--model", moved), 1)
    assert message.startswith("give --model the folder of the model the index was built with")
    assert "(R-RET-9: the model in" in message
    assert message.count("fingerprint ") == 2
