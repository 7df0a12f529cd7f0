"""Corpora that are not UTF-8 (spec/cli.md R-CLI-20): the readers' ``encoding=`` and
``errors=``, and ``--encoding`` / ``--on-bad-text`` of ``lateint index`` and ``add``, on real
latin-1 bytes in each corpus form (a JSONL file, a BEIR folder, a folder of .txt files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import failed, lateint, ok

from lateint_ref import InputError
from lateint_ref.evaluation.beir import load_corpus, read_jsonl_corpus, read_text_folder
from lateint_ref.retrieval.retriever import Retriever

MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
LATIN1 = "café crème, déjà vu"  # é, è, à: not UTF-8 once written as latin-1
GOOD = [("a", "green tea leaves"), ("c", "dogs bark in the park")]


def _jsonl(path: Path) -> Path:
    """Three records, the second ("b") in latin-1 (line 2)."""
    rows = [
        json.dumps({"_id": "a", "text": GOOD[0][1]}).encode(),
        json.dumps({"_id": "b", "text": LATIN1}, ensure_ascii=False).encode("latin-1"),
        json.dumps({"_id": "c", "text": GOOD[1][1]}).encode(),
    ]
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def _form(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A corpus of that form with document "b" in latin-1, and the file named in errors."""
    if kind == "jsonl":
        path = _jsonl(tmp_path / "docs.jsonl")
        return path, f"{path} line 2"
    if kind == "beir":
        (tmp_path / "beir").mkdir()
        _jsonl(tmp_path / "beir" / "corpus.jsonl")
        return tmp_path / "beir", f"{tmp_path / 'beir' / 'corpus.jsonl'} line 2"
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(GOOD[0][1], encoding="utf-8")
    (folder / "b.txt").write_bytes(LATIN1.encode("latin-1"))
    (folder / "c.txt").write_text(GOOD[1][1], encoding="utf-8")
    return folder, str(folder / "b.txt")


def _read(kind: str, path: Path, **kw):
    if kind == "jsonl":
        return read_jsonl_corpus(path, **kw)
    if kind == "beir":
        return load_corpus(path, **kw)
    return read_text_folder(path, **kw)


FORMS = ("jsonl", "beir", "texts")


@pytest.mark.spec("R-BEIR-6", "R-BEIR-7", "R-CLI-20")
@pytest.mark.parametrize("kind", FORMS)
def test_readers_decode_skip_replace_or_fail(kind: str, tmp_path: Path) -> None:
    """R-CLI-20, R-BEIR-6, R-BEIR-7: by default a latin-1 document fails naming the file (and the
    line); errors="skip" leaves it out and counts it; "replace" puts U+FFFD for each bad byte;
    encoding="latin-1" reads it as written."""
    path, where = _form(kind, tmp_path)
    with pytest.raises(InputError, match="R-CLI-20") as err:
        list(_read(kind, path))
    assert where in str(err.value)
    assert "byte 0xe9" in str(err.value)
    assert "--encoding" in str(err.value)
    assert "--on-bad-text" in str(err.value)
    skipping = _read(kind, path, errors="skip")
    assert list(skipping) == GOOD
    assert skipping.skipped == 1
    replaced = dict(_read(kind, path, errors="replace"))
    assert replaced["b"] == LATIN1.replace("é", "\ufffd").replace("è", "\ufffd").replace(
        "à", "\ufffd"
    )
    assert dict(_read(kind, path, encoding="latin-1"))["b"] == LATIN1
    assert dict(_read(kind, path, encoding="latin-1", errors="skip")) == {
        "a": GOOD[0][1],
        "b": LATIN1,
        "c": GOOD[1][1],
    }


@pytest.mark.spec("R-BEIR-8", "R-CLI-20")
def test_a_corpus_counts_its_skipped_records_per_pass(tmp_path: Path) -> None:
    """R-CLI-20, R-BEIR-8: a Corpus is read anew on each pass; `skipped` counts that pass."""
    corpus = read_jsonl_corpus(_jsonl(tmp_path / "docs.jsonl"), errors="skip")
    assert list(corpus) == list(corpus) == GOOD
    assert corpus.skipped == 1


@pytest.mark.spec("R-CLI-20")
def test_bad_encoding_arguments(tmp_path: Path) -> None:
    """R-CLI-20: an unknown codec, a codec that is no text encoding, a bad `errors` value and,
    for JSONL, an encoding whose newline is not the byte 0x0a are refused, naming the value;
    a text folder reads UTF-16."""
    path = _jsonl(tmp_path / "docs.jsonl")
    for kw, value in [
        ({"encoding": "klingon-8"}, "klingon-8"),
        ({"encoding": "rot13"}, "rot13"),
        ({"errors": "ignore"}, "ignore"),
        ({"encoding": "utf-16"}, "utf-16"),
    ]:
        with pytest.raises(InputError, match="R-CLI-20") as err:
            read_jsonl_corpus(path, **kw)
        assert repr(value) in str(err.value)
    with pytest.raises(InputError, match="R-CLI-20: unknown text encoding 'klingon-8'"):
        read_text_folder(tmp_path, encoding="klingon-8")
    folder = tmp_path / "utf16"
    folder.mkdir()
    (folder / "x.txt").write_bytes("naïve".encode("utf-16"))
    assert list(read_text_folder(folder, encoding="utf-16")) == [("x", "naïve")]


@pytest.mark.spec("R-CLI-4", "R-CLI-20")
@pytest.mark.parametrize("kind", FORMS)
def test_index_encoding_and_on_bad_text(kind: str, tmp_path: Path) -> None:
    """R-CLI-20, R-CLI-4: `lateint index` on a corpus with a latin-1 document: exit 1 by
    default, the line leading with what to do and naming the file (and line); `--on-bad-text
    skip` indexes the rest and reports "1 undecodable skipped" (`--json`: "undecodable": 1);
    `replace` keeps the document with U+FFFD; `--encoding latin-1` reads it as written."""
    path, where = _form(kind, tmp_path)
    argv = ["index", path, "--model", MODEL]
    message = failed(lateint(*argv, "--index", tmp_path / "i0"), 1)
    assert message.startswith("pass the corpus's --encoding")
    assert f"(R-CLI-20: {where}: not utf-8 text" in message
    out = ok(lateint(*argv, "--index", tmp_path / "i1", "--on-bad-text", "skip"))
    assert "1 undecodable skipped" in out
    out = ok(lateint(*argv, "--index", tmp_path / "i2", "--on-bad-text", "skip", "--json"))
    assert json.loads(out)["undecodable"] == 1
    assert json.loads(out)["n_docs"] == 2
    ok(lateint(*argv, "--index", tmp_path / "i3", "--on-bad-text", "replace"))
    ok(lateint(*argv, "--index", tmp_path / "i4", "--encoding", "latin-1", "--json"))
    assert Retriever.open(tmp_path / "i1", backend="numpy").text("b") is None
    assert "\ufffd" in (Retriever.open(tmp_path / "i3", backend="numpy").text("b") or "")
    assert Retriever.open(tmp_path / "i4", backend="numpy").text("b") == LATIN1


@pytest.mark.spec("R-CLI-3", "R-CLI-20")
def test_add_and_usage_errors(tmp_path: Path) -> None:
    """R-CLI-20, R-CLI-3: `lateint add` takes the same options (the count in its summary and
    JSON); an unknown --encoding is a usage error (exit 2) naming it, before anything is read."""
    docs = tmp_path / "seed.jsonl"
    docs.write_text(json.dumps({"_id": "z", "text": "seed document"}) + "\n")
    ok(lateint("index", docs, "--model", MODEL, "--index", tmp_path / "i"))
    path = _jsonl(tmp_path / "docs.jsonl")
    message = failed(lateint("add", path, "--index", tmp_path / "i"), 1)
    assert "R-CLI-20" in message
    assert f"{path} line 2" in message
    out = ok(lateint("add", path, "--index", tmp_path / "i", "--on-bad-text", "skip", "--json"))
    assert json.loads(out)["undecodable"] == 1
    assert json.loads(out)["added"] == 2
    result = lateint("index", path, "--model", MODEL, "--index", tmp_path / "j", "--encoding", "x9")
    message = failed(result, 2)
    assert message.startswith("R-CLI-3: argument --encoding: R-CLI-20: unknown text encoding 'x9'")
    assert not (tmp_path / "j").exists()
