"""The ModernBERT backbones: NumPy and torch agree, padding and far tokens change nothing they
must not, checkpoints load by name, and the NumPy one runs without torch.

Agreement with transformers' own ``ModernBertModel`` is checked by
``spec/encoder/check_modernbert.py`` (it needs transformers, which this suite does not install).
Torch is required here, not skipped.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lateint_ref.encoding.backbones import modernbert_numpy, numpy_ops
from lateint_ref.encoding.backbones.modernbert import ModernBert

ROOT = Path(__file__).resolve().parent.parent
VOCAB = 50

BASE = {
    "vocab_size": VOCAB,
    "hidden_size": 48,
    "intermediate_size": 72,
    "num_hidden_layers": 4,
    "num_attention_heads": 3,
    "hidden_activation": "gelu",
    "global_attn_every_n_layers": 3,
    "local_attention": 6,
    "global_rope_theta": 1000.0,
    "local_rope_theta": 100.0,
    "norm_eps": 1e-5,
    "norm_bias": False,
    "attention_bias": False,
    "mlp_bias": False,
}


def names_and_shapes(c: dict) -> dict[str, tuple[int, ...]]:
    """The safetensors names of a ``ModernBertModel`` with their shapes."""
    h, inter = c["hidden_size"], c["intermediate_size"]
    out: dict[str, tuple[int, ...]] = {"embeddings.tok_embeddings.weight": (c["vocab_size"], h)}

    def add(name: str, shape: tuple[int, ...], bias: bool) -> None:
        out[f"{name}.weight"] = shape
        if bias:
            out[f"{name}.bias"] = (shape[0],)

    add("embeddings.norm", (h,), c["norm_bias"])
    for i in range(c["num_hidden_layers"]):
        if i > 0:
            add(f"layers.{i}.attn_norm", (h,), c["norm_bias"])
        add(f"layers.{i}.attn.Wqkv", (3 * h, h), c["attention_bias"])
        add(f"layers.{i}.attn.Wo", (h, h), c["attention_bias"])
        add(f"layers.{i}.mlp_norm", (h,), c["norm_bias"])
        add(f"layers.{i}.mlp.Wi", (2 * inter, h), c["mlp_bias"])
        add(f"layers.{i}.mlp.Wo", (h, inter), c["mlp_bias"])
    add("final_norm", (h,), c["norm_bias"])
    return out


def random_weights(c: dict, seed: int) -> dict[str, np.ndarray]:
    """Seeded ``float32`` weights: linear weights with std ``1 / sqrt(in)``, norm weights near 1."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in names_and_shapes(c).items():
        x = rng.standard_normal(shape)
        if "norm" in name and name.endswith("weight"):
            x = 1 + 0.2 * x
        elif len(shape) == 2 and "tok_embeddings" not in name:
            x = x / math.sqrt(shape[1])
        elif name.endswith("bias"):
            x = 0.2 * x
        weights[name] = x.astype(np.float32)
    return weights


def torch_model(c: dict, weights: dict[str, np.ndarray]) -> ModernBert:
    model = ModernBert(c).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return model


def run_torch(model: ModernBert, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()


def padded_batch(seed: int, lengths: list[int], seq: int) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids, attention_mask: [len(lengths), seq] int64``, padded at the end with id 0."""
    rng = np.random.default_rng(seed)
    mask = (np.arange(seq)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    ids = rng.integers(1, VOCAB, size=mask.shape).astype(np.int64)
    return ids * mask, mask


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"norm_bias": True, "attention_bias": True, "mlp_bias": True},
        {"hidden_activation": "gelu_pytorch_tanh", "local_attention": 9, "num_hidden_layers": 2},
        {"layer_types": ["full_attention", "sliding_attention", "full_attention"],
         "num_hidden_layers": 3, "rope_parameters": {
             "full_attention": {"rope_type": "default", "rope_theta": 160000.0},
             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}},
    ],
)  # fmt: skip
def test_numpy_matches_torch_with_padding(overrides: dict) -> None:
    c = {**BASE, **overrides}
    weights = random_weights(c, seed=1)
    ids, mask = padded_batch(2, [30, 17, 4], seq=30)
    ours_torch = run_torch(torch_model(c, weights), ids, mask)
    ours_numpy = modernbert_numpy.forward(c, weights, ids, mask)
    assert ours_numpy.dtype == ours_torch.dtype == np.float32
    assert ours_numpy.shape == (3, 30, c["hidden_size"])
    assert np.isfinite(ours_numpy).all()
    assert np.isfinite(ours_torch).all()
    real = mask.astype(bool)
    assert np.abs(ours_numpy - ours_torch)[real].max() <= 1e-5


def test_padding_does_not_change_real_positions() -> None:
    c = {**BASE, "norm_bias": True, "attention_bias": True}
    weights = random_weights(c, seed=3)
    model = torch_model(c, weights)
    ids, mask = padded_batch(4, [25, 11], seq=25)
    batched = [run_torch(model, ids, mask), modernbert_numpy.forward(c, weights, ids, mask)]
    alone_ids, alone_mask = ids[1:, :11], mask[1:, :11]
    alone = [
        run_torch(model, alone_ids, alone_mask),
        modernbert_numpy.forward(c, weights, alone_ids, alone_mask),
    ]
    for b, a in zip(batched, alone, strict=True):
        assert np.abs(b[1, :11] - a[0]).max() <= 1e-5
    # What sits at padding positions (their ids) is irrelevant too.
    other = ids.copy()
    other[1, 11:] = 7
    assert np.abs(run_torch(model, other, mask)[1, :11] - batched[0][1, :11]).max() <= 1e-5


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_local_layers_see_only_their_window(backend: str) -> None:
    """Two local layers with half-window 3: position 10 depends on tokens within 2 * 3 = 6 of it
    and on no other; add one global layer and every token reaches it."""
    local = {**BASE, "num_hidden_layers": 2, "layer_types": ["sliding_attention"] * 2}
    glob = {**local, "layer_types": ["full_attention", "sliding_attention"]}
    ids, mask = padded_batch(5, [24], seq=24)
    for c in (local, glob):
        weights = random_weights(c, seed=6)
        model = torch_model(c, weights)

        def run(x: np.ndarray, c: dict = c, w: dict = weights, m: ModernBert = model) -> np.ndarray:
            if backend == "torch":
                return run_torch(m, x, mask)[0, 10]
            return modernbert_numpy.forward(c, w, x, mask)[0, 10]

        base = run(ids)
        for far in (10 + 6 + 1, 24 - 1, 10 - 6 - 1, 0):
            moved = ids.copy()
            moved[0, far] = (moved[0, far] % (VOCAB - 1)) + 1
            changed = np.abs(run(moved) - base).max()
            if c is local:
                assert changed == 0.0, f"token {far} reached position 10 past the window"
            else:
                assert changed > 1e-4
        near = ids.copy()
        near[0, 10 + 6] = (near[0, 10 + 6] % (VOCAB - 1)) + 1
        assert np.abs(run(near) - base).max() > 1e-4


@pytest.mark.parametrize("biases", [False, True])
def test_state_dict_names_match_transformers(biases: bool) -> None:
    c = {**BASE, "norm_bias": biases, "attention_bias": biases, "mlp_bias": biases}
    expected = names_and_shapes(c)
    model = ModernBert(c)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    assert "layers.0.attn_norm.weight" not in expected  # layer 0 has no attention norm
    torch_model(c, random_weights(c, seed=7))  # strict load
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict({k: torch.zeros(s) for k, s in list(expected.items())[1:]})


def test_layer_types_and_rope_from_either_config_form() -> None:
    assert modernbert_numpy.layer_types({"num_hidden_layers": 7}) == [
        "full_attention" if i % 3 == 0 else "sliding_attention" for i in range(7)
    ]
    new_form = {k: v for k, v in BASE.items() if not k.endswith("rope_theta")}
    new_form["rope_parameters"] = {
        "full_attention": {"rope_type": "default", "rope_theta": BASE["global_rope_theta"]},
        "sliding_attention": {"rope_type": "default", "rope_theta": BASE["local_rope_theta"]},
    }
    weights = random_weights(BASE, seed=8)
    ids, mask = padded_batch(9, [20, 12], seq=20)
    old = modernbert_numpy.forward(BASE, weights, ids, mask)
    np.testing.assert_array_equal(modernbert_numpy.forward(new_form, weights, ids, mask), old)
    swapped = {**BASE, "global_rope_theta": 100.0, "local_rope_theta": 1000.0}
    assert np.abs(modernbert_numpy.forward(swapped, weights, ids, mask) - old).max() > 1e-3
    with pytest.raises(ValueError, match="rotary"):
        modernbert_numpy.forward(
            {**BASE, "rope_scaling": {"rope_type": "linear"}}, weights, ids, mask
        )


def test_erf_is_accurate_in_float32() -> None:
    x = np.linspace(-6, 6, 20001, dtype=np.float32)
    exact = np.array([math.erf(float(v)) for v in x])
    assert np.abs(numpy_ops.erf(x) - exact).max() < 1e-6
    gelu = numpy_ops.ACTIVATIONS["gelu"](x)
    assert gelu.dtype == np.float32
    assert np.abs(gelu - torch.nn.functional.gelu(torch.from_numpy(x)).numpy()).max() < 2e-6


def test_numpy_forward_runs_without_torch(tmp_path: Path) -> None:
    c = {**BASE, "num_hidden_layers": 2}
    weights = random_weights(c, seed=10)
    ids, mask = padded_batch(11, [16, 9], seq=16)
    np.savez(tmp_path / "in.npz", ids=ids, mask=mask, **weights)
    script = f"""
import json, sys
sys.modules["torch"] = None
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from lateint_ref.encoding.backbones import modernbert_numpy, numpy_ops
try:
    import torch
    raise SystemExit("torch was importable")
except ImportError:
    pass
data = dict(np.load({str(tmp_path / "in.npz")!r}))
ids, mask = data.pop("ids"), data.pop("mask")
out = modernbert_numpy.forward(json.loads({json.dumps(c)!r}), data, ids, mask)
np.save({str(tmp_path / "out.npy")!r}, out)
assert "torch" not in [m.split(".")[0] for m, v in sys.modules.items() if v is not None]
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, timeout=120)
    expected = modernbert_numpy.forward(c, weights, ids, mask)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
