"""``lateint delete`` and ``lateint compact`` (spec/cli.md R-CLI-15, R-CLI-16), run as a
subprocess on an index built by ``lateint index`` with the tiny BERT model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import failed, lateint, ok

from lateint_ref import Index

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "spec" / "vectors" / "encoder" / "tiny-bert"
TEXTS = ["cats purr", "dogs bark", "rust is fast", "python snakes", "green tea", "bread rises"]


@pytest.fixture
def index(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(TEXTS)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "idx"
    ok(lateint("index", corpus, "--model", MODEL, "--index", path, "--batch-size", 4))
    return path


@pytest.mark.spec("R-CLI-15", "R-CLI-16")
def test_delete_then_compact(index: Path, tmp_path: Path) -> None:
    """R-CLI-15, R-CLI-16: deleting by argument and by file, then compacting; info, search and
    the JSON summaries agree."""
    out = ok(lateint("delete", "--index", index, "d1", "d4"))
    assert out == f"deleted 2 documents from {index} (4 live)\n"
    ids = tmp_path / "ids.txt"
    ids.write_text("d2\n\n  d5 \n")
    summary = json.loads(ok(lateint("delete", "--index", index, "--ids", ids, "--json")))
    assert summary == {
        "index": str(index),
        "deleted": 2,
        "n_live": 2,
        "n_deleted": 4,
        "generation": 3,
    }
    data = json.loads(ok(lateint("info", "--index", index, "--json")))
    assert (data["n_live"], data["n_deleted"]) == (2, 4)
    hits = json.loads(
        ok(lateint("search", "--index", index, "cats", "--k", "6", "--json", "--backend", "numpy"))
    )
    assert {h["id"] for h in hits[0]["hits"]} == {"d0", "d3"}
    done = json.loads(ok(lateint("compact", "--index", index, "--json")))
    assert (done["dropped"], done["n_live"], done["generation"]) == (4, 2, 4)
    assert ok(lateint("compact", "--index", index)).startswith(f"compacted {index}: 2 documents")
    assert Index.open(index).ids == ["d0", "d3"]


@pytest.mark.spec("R-CLI-16", "R-INDEX-19")
def test_compact_with_refit(index: Path) -> None:
    """R-CLI-16, R-INDEX-19: --refit encodes the stored texts again and refits the codec in the
    compaction's commit; the summary says so; info and search work on the result."""
    ok(lateint("delete", "--index", index, "d1"))
    done = json.loads(
        ok(lateint("compact", "--index", index, "--refit", "--json", "--backend", "numpy"))
    )
    assert (done["refit"], done["n_live"], done["generation"]) == (True, 5, 3)
    assert 0 <= done["far_share"] <= 0.2
    assert [n for n, _ in Index.open(index).files()][1] == "codec-3.lti"
    assert (
        json.loads(ok(lateint("info", "--index", index, "--json")))["far_share"]
        == (done["far_share"])
    )
    hits = json.loads(ok(lateint("search", "--index", index, "cats", "--k", "5", "--json")))
    assert {h["id"] for h in hits[0]["hits"]} == {"d0", "d2", "d3", "d4", "d5"}


@pytest.mark.spec("R-CLI-3", "R-CLI-4", "R-CLI-15", "R-INDEX-10", "R-INDEX-12")
def test_delete_errors(index: Path, tmp_path: Path) -> None:
    """R-CLI-15, R-CLI-3: both or neither of IDs and --ids is a usage error (exit 2); an unknown
    id fails (exit 1) naming it and deletes nothing; a missing file is named."""
    assert "R-CLI-15" in failed(lateint("delete", "--index", index), 2)
    ids = tmp_path / "ids.txt"
    ids.write_text("d1\n")
    assert "R-CLI-15" in failed(lateint("delete", "--index", index, "d2", "--ids", ids), 2)
    message = failed(lateint("delete", "--index", index, "d1", "nope"), 1)
    assert message.startswith("R-INDEX-10")
    assert "nope" in message
    assert Index.open(index).n_live == 6
    missing = tmp_path / "none.txt"
    assert failed(lateint("delete", "--index", index, "--ids", missing), 1) == (
        f"R-CLI-4: {missing}: No such file or directory"
    )
    plain = tmp_path / "plain"
    Index.create(plain, (np.ones((3, 2, 4)) + np.arange(3)[:, None, None]).astype(np.float32))
    assert failed(lateint("delete", "--index", plain, "x"), 1).startswith("R-CLI-15")
    assert ok(lateint("delete", "--index", plain, "1")).startswith("deleted 1 documents")
    ok(lateint("delete", "--index", plain, "0", "2"))
    assert failed(lateint("compact", "--index", plain), 1).startswith("R-INDEX-12")


@pytest.mark.spec("R-CLI-17", "R-ISEARCH-7")
def test_search_within_an_allow_list(index: Path, tmp_path: Path) -> None:
    """R-CLI-17, R-ISEARCH-7: --allow FILE restricts the results of query texts and of a query
    file to the listed ids; unknown ids are ignored; a missing file fails naming it."""
    allow = tmp_path / "allow.txt"
    allow.write_text(" d2\n\nd5\nnot-there\n")
    args = ("search", "--index", index, "--allow", allow, "--k", "6", "--backend", "numpy")
    hits = json.loads(ok(lateint(*args, "cats", "tea", "--json")))
    assert [{h["id"] for h in q["hits"]} for q in hits] == [{"d2", "d5"}, {"d2", "d5"}]
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "q1", "text": "cats"}) + "\n")
    run = tmp_path / "run.tsv"
    ok(lateint(*args, "--queries", queries, "--output", run))
    assert sorted(line.split()[2] for line in run.read_text().splitlines()) == ["d2", "d5"]
    allow.write_text("nobody\n")
    assert json.loads(ok(lateint(*args, "cats", "--json")))[0]["hits"] == []
    assert "gone.txt" in failed(
        lateint("search", "--index", index, "--allow", tmp_path / "gone.txt", "cats"), 1
    )


@pytest.mark.spec("R-CLI-18", "R-INDEX-5", "R-INDEX-11")
def test_add_and_upsert(index: Path, tmp_path: Path) -> None:
    """R-CLI-18, R-INDEX-11: add encodes with the index's model and commits new documents; an id
    already live fails (exit 1) and changes nothing, unless --upsert replaces it."""
    more = tmp_path / "more.jsonl"
    rows = [{"_id": "d6", "text": "tea leaves"}, {"_id": "d7", "text": "fast cats"}]
    more.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = json.loads(ok(lateint("add", "--index", index, more, "--json")))
    assert (summary["added"], summary["n_live"], summary["generation"]) == (2, 8, 2)
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"_id": "d0", "text": "cats sleep"}) + "\n")
    assert "R-INDEX-5" in failed(lateint("add", "--index", index, again), 1)
    assert Index.open(index).generation == 2
    out = ok(lateint("add", "--index", index, again, "--upsert"))
    assert out.startswith(f"added 1 documents to {index} (8 live)")
    hits = json.loads(ok(lateint("search", "--index", index, "cats", "--k", "8", "--json")))
    texts = {h["id"]: h["text"] for h in hits[0]["hits"]}
    assert texts["d0"] == "cats sleep"
    assert Index.open(index).live_ids == ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d0"]
