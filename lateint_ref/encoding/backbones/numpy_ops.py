"""The NumPy building blocks the NumPy backbones share (float32 in, float32 out)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lateint_ref import _native

# Abramowitz & Stegun 7.1.26 coefficients: |error| <= 1.5e-7 for erf.
_P = np.float32(0.3275911)
_A = tuple(
    np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function in float32, absolute error about 5e-7 (approximation and rounding)."""
    z = np.abs(x, dtype=np.float32)
    t = _P * z
    t += 1.0
    np.reciprocal(t, out=t)
    poly = _A[4] * t
    for a in (_A[3], _A[2], _A[1], _A[0]):
        poly += a
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z
    np.subtract(1.0, poly, out=poly)
    result: np.ndarray = np.copysign(poly, x, out=poly)
    return result


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU: ``x * (1 + erf(x / sqrt(2))) / 2``, float32."""
    out = erf(x * np.float32(1.0 / np.sqrt(2.0)))
    out += 1.0
    out *= x
    out *= np.float32(0.5)
    return out


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """The tanh approximation of GELU."""
    inner = np.float32(np.sqrt(2 / np.pi)) * (x + np.float32(0.044715) * x * x * x)
    result: np.ndarray = np.float32(0.5) * x * (np.float32(1) + np.tanh(inner))
    return result


def silu(x: np.ndarray) -> np.ndarray:
    """``x * sigmoid(x)``."""
    result: np.ndarray = x / (np.float32(1) + np.exp(-x))
    return result


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": gelu,
    "gelu_python": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "silu": silu,
    "swish": silu,
    "relu": lambda x: np.maximum(x, np.float32(0)),
}


def layer_norm(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float
) -> np.ndarray:
    """LayerNorm over the last axis: ``[..., hidden]`` float32."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out = centred / np.sqrt(var + np.float32(eps)) * weight
    result: np.ndarray = out + bias if bias is not None else out
    return result


# Up to this many rows (one query's tokens), products run on the core's blocked kernel, at about
# 1.8x what a BLAS library reaches on such thin products (bench/bench_query.py); more rows go to
# NumPy's BLAS, which is faster there.
SMALL_ROWS = 64


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x @ weight.T + bias`` (torch.nn.Linear's layout: weight ``[out, in]``)."""
    rows = int(np.prod(x.shape[:-1]))
    small = 0 < rows <= SMALL_ROWS and x.shape[-1] == weight.shape[-1] >= 1
    if small and x.dtype == np.float32 and weight.dtype == np.float32:
        flat = np.require(x.reshape(rows, x.shape[-1]), requirements=["C", "A"])
        out = _native.small_linear(flat, np.require(weight, requirements=["C", "A"]))
        out = out.reshape(*x.shape[:-1], weight.shape[0])
    else:
        out = x @ weight.T
    result: np.ndarray = out + bias if bias is not None else out
    return result


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, stable."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    result: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return result


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Scaled dot-product attention. ``q, k, v: [batch, heads, seq, head_dim]``; ``bias``
    broadcastable to ``[batch, heads, seq, seq]`` (0 where allowed, a large negative where not).
    Returns ``[batch, heads, seq, head_dim]``."""
    scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
    scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
    result: np.ndarray = softmax(scores) @ v
    return result
