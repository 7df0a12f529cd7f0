"""Check that our torch backbones apply dropout in train mode where, and at the rates, transformers'
``BertModel`` and ``ModernBertModel`` apply it (spec/training.md R-TRAIN-11).

Run by hand in the peers venv (torch, transformers 5.x):

    $HOME/peers/bin/python spec/training/check_dropout.py

Dropout masks come from torch's global generator. Two modules that draw the same masks, in the
same order, for tensors of the same shapes at the same positions give the same output from the
same seed; one dropout out of place (another position, another rate, another order, one more or
one fewer) gives other masks and an output that differs by O(1). So for seeded random
configurations, each rate alone and all of them together (distinct values), with transformers'
SDPA and eager attention, and batches padded at the end, this asserts on real positions:
``max |ours (train, seed s) - transformers (train, seed s)| <= 1e-5``, that the same seed gives
the same output again, and that train mode differs from eval mode by more than 1e-2 (dropout is
really drawn).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, ModernBertConfig, ModernBertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lateint_ref.encoding.backbones.bert import Bert
from lateint_ref.encoding.backbones.modernbert import ModernBert

TOL = 1e-5
BERT_RATES = [
    {"hidden_dropout_prob": 0.2, "attention_probs_dropout_prob": 0.0},
    {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.3},
    {"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.25},
]
MODERNBERT_RATES = [
    {"embedding_dropout": 0.2, "attention_dropout": 0.0, "mlp_dropout": 0.0},
    {"embedding_dropout": 0.0, "attention_dropout": 0.3, "mlp_dropout": 0.0},
    {"embedding_dropout": 0.0, "attention_dropout": 0.0, "mlp_dropout": 0.4},
    {"embedding_dropout": 0.1, "attention_dropout": 0.2, "mlp_dropout": 0.3},
]


def batch(seed: int, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids, attention_mask: [3, 24] int64``, the second row padded at the end."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (3, 24), generator=g)
    mask = torch.ones(3, 24, dtype=torch.int64)
    mask[1, 17:] = 0
    return ids, mask


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Random weights at a variance-preserving scale (a linear weight ``[out, in]`` has std
    ``1 / sqrt(in)``), norm weights away from 1 and non-zero biases, so that every block, and
    so every dropout, shows in the output (transformers' initialisation leaves the blocks'
    outputs small beside the residual stream)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)
            elif p.ndim == 2 and "embeddings" not in name:
                p.copy_(noise / p.shape[1] ** 0.5)
            else:
                p.copy_(0.2 * noise if name.endswith("bias") else noise)


def compare(hf: torch.nn.Module, ours: torch.nn.Module, seed: int, vocab: int) -> float:
    """The worst difference on real positions, train mode, the same seed on both sides."""
    ids, mask = batch(seed, vocab)
    real = mask.bool()
    hf.train()
    ours.train()
    with torch.no_grad():
        torch.manual_seed(seed)
        want = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.manual_seed(seed)
        got = ours(ids, mask)
        torch.manual_seed(seed)
        again = ours(ids, mask)
        plain = ours.eval()(ids, mask)
    assert torch.equal(got, again), "the same seed gave another output"
    assert float((got - plain)[real].abs().max()) > 1e-2, "train mode computed eval mode"
    return float((got - want)[real].abs().max())


def check_bert(case: int, rates: dict[str, float], impl: str) -> float:
    config = BertConfig(
        vocab_size=97,
        hidden_size=64,
        num_attention_heads=4,
        num_hidden_layers=2,
        intermediate_size=96,
        max_position_embeddings=64,
        attn_implementation=impl,
        **rates,
    )
    torch.manual_seed(case)
    hf = BertModel(config, add_pooling_layer=False)
    randomize(hf, case)
    ours = Bert(config.to_dict(), rates)
    ours.load_state_dict(
        {k: v for k, v in hf.state_dict().items() if k in ours.state_dict()}, strict=True
    )
    return compare(hf, ours, 100 + case, 97)


def check_modernbert(case: int, rates: dict[str, float], impl: str) -> float:
    config = ModernBertConfig(
        vocab_size=97,
        hidden_size=64,
        num_attention_heads=4,
        num_hidden_layers=3,
        intermediate_size=96,
        local_attention=8,
        pad_token_id=0,
        attn_implementation=impl,
        **rates,
    )
    torch.manual_seed(case)
    hf = ModernBertModel(config)
    randomize(hf, case)
    ours = ModernBert(config.to_dict(), rates)
    ours.load_state_dict(hf.state_dict(), strict=True)
    return compare(hf, ours, 200 + case, 97)


def main() -> None:
    import transformers

    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    worst = 0.0
    for name, cases, check in (
        ("bert", BERT_RATES, check_bert),
        ("modernbert", MODERNBERT_RATES, check_modernbert),
    ):
        for case, rates in enumerate(cases):
            for impl in ("sdpa", "eager"):
                err = check(case, rates, impl)
                print(f"{name:10s} {impl:5s} {rates}: max |ours - transformers| {err:.2e}")
                assert err <= TOL, (name, impl, rates, err)
                worst = max(worst, err)
    print(f"OK: max |ours - transformers| in train mode {worst:.2e} (tolerance {TOL:g})")


if __name__ == "__main__":
    main()
