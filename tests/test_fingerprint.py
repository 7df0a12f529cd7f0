"""Model fingerprints (spec/retriever.md R-RET-9): what `build` records, `Retriever.open` with
a model that moved, and indexes built before fingerprints (R-RET-3)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from lateint_ref import InputError
from lateint_ref.encoding import fingerprint as fingerprint_module
from lateint_ref.encoding.fingerprint import fingerprint
from lateint_ref.encoding.folder import read_folder
from lateint_ref.retrieval import retriever
from lateint_ref.retrieval.retriever import Retriever

MODEL = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
DOCS = [("a", "cats purr at night"), ("b", "dogs bark in the park"), ("c", "green tea leaves")]
MORE = [*DOCS, ("d", "fast native code"), ("e", "bread and yeast")]


def _oracle(folder: Path, names: list[str]) -> str:
    """R-RET-9's definition, written out: path, NUL, size (8 bytes LE), bytes; sorted paths."""
    h = hashlib.sha256()
    for name in sorted(names):
        data = (folder / name).read_bytes()
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def _flip_weight_byte(folder: Path) -> None:
    weights = folder / "1_Dense" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the last byte of the last tensor: still a valid file
    weights.write_bytes(bytes(data))


def _build(index: Path, model: Path, docs=DOCS) -> Retriever:
    return Retriever.build(index, model, docs, backend="numpy", commit_every=2)


@pytest.mark.spec("R-RET-9")
def test_the_fingerprint_covers_the_files_the_encoder_reads(tmp_path: Path) -> None:
    """R-RET-9: the files of a PyLate folder, hashed as specified, in chunks; a copy elsewhere
    has the same fingerprint, one changed byte of a projection's weights another."""
    folder = read_folder(MODEL)
    assert folder.files == (
        "1_Dense/config.json",
        "1_Dense/model.safetensors",
        "config.json",
        "config_sentence_transformers.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    )
    assert fingerprint(folder) == _oracle(MODEL, list(folder.files))
    copy = tmp_path / "copy"
    shutil.copytree(MODEL, copy)
    (copy / "README.md").write_text("not read by the encoder")
    assert fingerprint(read_folder(copy)) == fingerprint(folder)
    _flip_weight_byte(copy)
    assert fingerprint(read_folder(copy)) != fingerprint(folder)


@pytest.mark.spec("R-RET-9")
def test_the_fingerprint_is_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-RET-9: a weights file is read in chunks, never whole: with 64-byte chunks the hash is
    the same."""
    whole = fingerprint(read_folder(MODEL))
    monkeypatch.setattr(fingerprint_module, "_CHUNK", 64)
    assert fingerprint(read_folder(MODEL)) == whole


@pytest.mark.spec("R-RET-2", "R-RET-9")
def test_an_index_whose_model_moved_opens_with_model_dir(tmp_path: Path) -> None:
    """R-RET-9, R-RET-2: the record holds the fingerprint; with the folder moved, `open` alone
    fails, `open(model_dir=NEW)` gives the same hits; a changed weight is refused, naming both
    fingerprints' first 12 digits."""
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    built = _build(tmp_path / "i", model)
    recorded = built.index.metadata["fingerprint"]
    assert recorded == fingerprint(read_folder(MODEL))
    before = built.search(["cats purr"], k=3)[0]
    moved = tmp_path / "moved"
    model.rename(moved)
    with pytest.raises(InputError, match="R-RET-2: model folder not found"):
        Retriever.open(tmp_path / "i", backend="numpy")
    r = Retriever.open(tmp_path / "i", model_dir=moved, backend="numpy")
    after = r.search(["cats purr"], k=3)[0]
    assert after.ids == before.ids
    assert after.scores.tolist() == before.scores.tolist()
    _flip_weight_byte(moved)
    found = fingerprint(read_folder(moved))
    with pytest.raises(InputError, match="R-RET-9") as err:
        Retriever.open(tmp_path / "i", model_dir=moved, backend="numpy")
    assert recorded[:12] in str(err.value)
    assert found[:12] in str(err.value)
    with pytest.raises(InputError, match="R-RET-9: model folder not found"):
        Retriever.open(tmp_path / "i", model_dir=tmp_path / "absent", backend="numpy")


@pytest.mark.spec("R-RET-3", "R-RET-9")
def test_a_changed_model_under_the_same_path_is_refused_at_a_resumed_build(
    tmp_path: Path,
) -> None:
    """R-RET-3, R-RET-9: the fingerprint is part of the record a build compares; unchanged, the
    build resumes; a weight changed under the same path is another model, nothing is written."""
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    _build(tmp_path / "i", model)
    again = _build(tmp_path / "i", model, MORE)
    assert again.counts is not None
    assert again.counts["added"] == 2
    _flip_weight_byte(model)
    files = {p.name: p.read_bytes() for p in (tmp_path / "i").iterdir() if p.name != "LOCK"}
    with pytest.raises(InputError, match=r"R-RET-3: .*fingerprint"):
        _build(tmp_path / "i", model, [*MORE, ("f", "one more")])
    assert {p.name: p.read_bytes() for p in (tmp_path / "i").iterdir() if p.name != "LOCK"} == files


def _old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: Path) -> Path:
    """An index as a build before fingerprints wrote it: a record without "fingerprint"."""
    real = retriever._model

    def without(*args, **kwargs):
        settings, folder = real(*args, **kwargs)
        settings.pop("fingerprint", None)
        return settings, folder

    with monkeypatch.context() as m:
        m.setattr(retriever, "_model", without)
        _build(tmp_path / "old", model)
    return tmp_path / "old"


@pytest.mark.spec("R-RET-3", "R-RET-9")
def test_an_index_built_before_fingerprints_keeps_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-RET-9, R-RET-3: an index without a fingerprint opens as before, resumes (its record
    compared without the fingerprint, and kept without one), opens with `model_dir` naming the
    folder it records, and refuses any other `model_dir`, saying why."""
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    old = _old_index(tmp_path, monkeypatch, model)
    assert "fingerprint" not in Retriever.open(old, backend="numpy").index.metadata
    resumed = _build(old, model, MORE)
    assert resumed.counts is not None
    assert resumed.counts["added"] == 2
    assert resumed.counts["unchanged"] == 3
    opened = Retriever.open(old, model_dir=model, backend="numpy")
    assert "fingerprint" not in opened.index.metadata
    assert len(opened.index) == 5
    copy = tmp_path / "copy"
    shutil.copytree(MODEL, copy)
    with pytest.raises(InputError, match=r"R-RET-9: .*records no fingerprint"):
        Retriever.open(old, model_dir=copy, backend="numpy")
