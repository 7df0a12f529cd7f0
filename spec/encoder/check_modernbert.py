"""Check our ModernBERT backbones against transformers' ``ModernBertModel`` (eager attention).

Run by hand in the peers venv (torch, transformers 5.x):

    $HOME/peers/bin/python spec/encoder/check_modernbert.py

For several seeded random configurations (1 to 4 layers, a small ``local_attention`` so that
sequences of 20 to 40 tokens reach past the window, biases on and off, several activations) and
batches padded at the end, it asserts on real positions:
``max |ours (torch) - transformers| <= 1e-5`` and ``max |ours (NumPy) - ours (torch)| <= 1e-5``.
Each model is built from the config's JSON (``to_dict``), and again from a config.json in the
older form (``global_rope_theta``, ``local_rope_theta``, ``global_attn_every_n_layers``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from transformers import ModernBertConfig, ModernBertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lateint_ref.encoding.backbones import modernbert_numpy
from lateint_ref.encoding.backbones.modernbert import ModernBert

TOL = 1e-5

# hidden, heads, layers, intermediate, local_attention, every_n, norm_bias, attn_bias, mlp_bias, act
CASES = [
    (64, 4, 1, 96, 8, 3, False, False, False, "gelu"),
    (64, 4, 2, 96, 8, 3, False, False, False, "gelu"),
    (96, 3, 3, 160, 8, 2, True, True, True, "gelu"),
    (128, 8, 4, 192, 10, 3, False, True, False, "gelu"),
    (48, 2, 4, 64, 6, 1, True, False, True, "gelu"),
    (64, 4, 3, 80, 9, 3, False, False, True, "gelu_pytorch_tanh"),
    (32, 2, 4, 48, 4, 4, True, True, False, "silu"),
]


def batch(rng: np.random.Generator, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids, attention_mask: [batch, seq] int64``, some rows padded at the end."""
    b, s = int(rng.integers(2, 5)), int(rng.integers(20, 41))
    lengths = rng.integers(1, s + 1, size=b)
    lengths[0] = s  # one full row
    lengths[1] = min(lengths[1], s - 5)  # one clearly padded row
    mask = (np.arange(s)[None, :] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(0, vocab, size=(b, s)).astype(np.int64)
    return np.where(mask == 1, ids, 0), mask


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Random weights at a variance-preserving scale (a linear weight ``[out, in]`` has std
    ``1 / sqrt(in)``, so activations stay O(1) as in a trained model), with norm weights away from
    1 and non-zero biases, so that every part of the computation shows in the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)
            elif p.ndim == 2 and "tok_embeddings" not in name:
                p.copy_(noise / p.shape[1] ** 0.5)
            else:
                p.copy_(0.2 * noise if name.endswith("bias") else noise)


def legacy_config(cfg: dict) -> dict:
    """The same model described as ModernBERT-base's config.json does (transformers 4 style)."""
    old = {k: v for k, v in cfg.items() if k not in ("layer_types", "rope_parameters")}
    old["global_rope_theta"] = cfg["rope_parameters"]["full_attention"]["rope_theta"]
    old["local_rope_theta"] = cfg["rope_parameters"]["sliding_attention"]["rope_theta"]
    return old


def check(case_index: int, case: tuple) -> tuple[float, float]:
    hidden, heads, layers, inter, local, every, nb, ab, mb, act = case
    rng = np.random.default_rng(case_index)
    hf_config = ModernBertConfig(
        vocab_size=97,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_hidden_layers=layers,
        intermediate_size=inter,
        local_attention=local,
        global_attn_every_n_layers=every,
        norm_bias=nb,
        attention_bias=ab,
        mlp_bias=mb,
        hidden_activation=act,
        norm_eps=1e-5 if case_index % 2 else 1e-6,
        global_rope_theta=float(rng.choice([160_000.0, 1_000.0])),
        local_rope_theta=float(rng.choice([10_000.0, 50.0])),
        pad_token_id=0,
        attn_implementation="eager",
    )
    torch.manual_seed(case_index)
    hf = ModernBertModel(hf_config).eval()
    randomize(hf, case_index)
    tensors = {k: v.detach().clone() for k, v in hf.state_dict().items()}
    weights = {k: v.numpy() for k, v in tensors.items()}
    cfg = hf_config.to_dict()
    worst_torch = worst_numpy = 0.0
    for config in (cfg, legacy_config(cfg)):
        ours = ModernBert(config).eval()
        unwindowed = ModernBert({**config, "local_attention": 10**6}).eval()
        ours.load_state_dict(tensors, strict=True)
        for _ in range(3):
            ids, mask = batch(rng, 97)
            with torch.no_grad():
                ref = hf(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
                ref = ref.last_hidden_state.numpy()
                mine = ours(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
            mine_np = modernbert_numpy.forward(config, weights, ids, mask)
            assert mine.dtype == mine_np.dtype == np.float32
            assert mine.shape == ref.shape
            real = mask.astype(bool)
            assert np.isfinite(mine).all()
            assert np.isfinite(mine_np).all()
            worst_torch = max(worst_torch, float(np.abs(mine - ref)[real].max()))
            if "sliding_attention" in hf_config.layer_types:  # the window is really exercised
                unwindowed.load_state_dict(tensors, strict=True)
                with torch.no_grad():
                    wide = unwindowed(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
                assert np.abs(wide - ref)[real].max() > 1e-3, "no token reached past the window"
            worst_numpy = max(worst_numpy, float(np.abs(mine_np - mine)[real].max()))
    types = "".join("G" if t == "full_attention" else "L" for t in hf_config.layer_types)
    print(
        f"case {case_index}: hidden {hidden:3d} heads {heads} layers {types:4s} window {local:2d} "
        f"biases n{nb:d}a{ab:d}m{mb:d} {act:17s} torch-hf {worst_torch:.2e}  "
        f"numpy-torch {worst_numpy:.2e}"
    )
    assert worst_torch <= TOL, f"case {case_index}: torch vs transformers {worst_torch}"
    assert worst_numpy <= TOL, f"case {case_index}: NumPy vs torch {worst_numpy}"
    return worst_torch, worst_numpy


def main() -> None:
    import transformers

    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    results = [check(i, case) for i, case in enumerate(CASES)]
    print(
        f"OK: {len(results)} configurations, max |torch - transformers| "
        f"{max(r[0] for r in results):.2e}, max |NumPy - torch| {max(r[1] for r in results):.2e}"
        f" (tolerance {TOL:g}, real positions only)"
    )


if __name__ == "__main__":
    main()
