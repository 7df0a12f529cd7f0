"""``models.ColBERT``: PyLate's model class over ``lateint_ref.Encoder`` (R-PYAPI-2 to R-PYAPI-4).

Encoding runs on the encoder (NumPy or torch backend); the trainable ``training.ColBERT`` is built
from the same folder when a loss first needs it (``ColBERT.module``), and from then on encoding and
saving use its current weights, so that what was trained is what is encoded and saved."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from lateint_ref import _checks
from lateint_ref.encoding.encoder import Encoder, Seeded, build_encoder, model_parts
from lateint_ref.encoding.folder import ModelFolder, read_folder
from lateint_ref.errors import InputError

# Hub and loading options of PyLate's constructor that a local folder does not need (R-PYAPI-2).
IGNORED = (
    "cache_folder",
    "revision",
    "local_files_only",
    "token",
    "use_auth_token",
    "trust_remote_code",
    "truncation",
    "model_card_data",
)
# Options this facade does not provide: any value but PyLate's default raises (R-PYAPI-2).
UNSUPPORTED = {
    "modules": None,
    "prompts": None,
    "default_prompt_name": None,
    "truncate_dim": None,
    "bias": False,
    "model_kwargs": None,
    "tokenizer_kwargs": None,
    "config_kwargs": None,
}
# encode's options that must keep PyLate's default (R-PYAPI-3).
ENCODE_DEFAULTS = {
    "prompt_name": None,
    "prompt": None,
    "precision": "float32",
    "padding": False,
    "normalize_embeddings": True,
    "pool_factor": 1,
    "output_value": "token_embeddings",
}


def _backend(backend: Any) -> str:
    """R-PYAPI-2: None is torch when it is installed, else NumPy."""
    if backend is None:
        return "torch" if importlib.util.find_spec("torch") is not None else "numpy"
    return _checks.choice(backend, "backend", "R-PYAPI-2", ("torch", "numpy"))


class ColBERT:
    """PyLate's ``models.ColBERT(model_name_or_path, ...)`` on a local folder (R-PYAPI-2): a PyLate
    or sentence-transformers ColBERT folder, a Stanford ColBERT checkpoint, or a bare BERT /
    ModernBERT backbone, given a seeded ``[embedding_size, hidden]`` projection (R-ENC-1) as PyLate
    gives it a randomly initialised one. The prefix, length, expansion and skiplist arguments win
    over the saved configuration, as in PyLate. ``backend`` (``"torch"``, ``"numpy"``, or None:
    torch when installed) and ``seed`` (the backbone's projection) are this project's additions."""

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        modules: Any = None,
        device: str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        similarity_fn_name: str | None = None,
        cache_folder: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        use_auth_token: bool | str | None = None,
        truncate_dim: int | None = None,
        embedding_size: int | None = None,
        bias: bool = False,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        truncation: bool = True,
        query_length: int | None = None,
        document_length: int | None = None,
        do_query_expansion: bool | None = None,
        attend_to_expansion_tokens: bool | None = None,
        skiplist_words: list[str] | None = None,
        model_kwargs: dict[str, Any] | None = None,
        tokenizer_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        model_card_data: Any = None,
        *,
        backend: str | None = None,
        seed: int = 0,
    ) -> None:
        given = {
            "modules": modules,
            "prompts": prompts,
            "default_prompt_name": default_prompt_name,
            "truncate_dim": truncate_dim,
            "bias": bias,
            "model_kwargs": model_kwargs,
            "tokenizer_kwargs": tokenizer_kwargs,
            "config_kwargs": config_kwargs,
        }
        for name, default in UNSUPPORTED.items():
            if given[name] != default:
                raise InputError(
                    f"R-PYAPI-2: {name}={given[name]!r} is not supported (only {default!r})"
                )
        if similarity_fn_name not in (None, "MaxSim"):
            raise InputError(
                f"R-PYAPI-2: similarity_fn_name must be 'MaxSim', got {similarity_fn_name!r}"
            )
        if model_name_or_path is None:
            raise InputError("R-PYAPI-2: model_name_or_path must name a local model folder")
        if not isinstance(model_name_or_path, (str, os.PathLike)):
            raise InputError(
                f"R-PYAPI-2: model_name_or_path must be a path, got {model_name_or_path!r}"
            )
        self.backend = _backend(backend)
        self.device = "cpu" if device is None else device
        if self.backend == "numpy" and self.device != "cpu":
            raise InputError(f"R-PYAPI-2: the numpy backend runs on the cpu, got {device!r}")
        self.overrides: dict[str, Any] = {
            "query_prefix": query_prefix,
            "document_prefix": document_prefix,
            "query_length": query_length,
            "document_length": document_length,
            "do_query_expansion": do_query_expansion,
            "attend_to_expansion_tokens": attend_to_expansion_tokens,
            "skiplist_words": skiplist_words,
        }
        self.folder: ModelFolder = read_folder(model_name_or_path)
        self.seeded: Seeded | None = None
        if self.folder.kind == "backbone":
            self.seeded = Seeded(128 if embedding_size is None else embedding_size, seed)
        self.encoder: Encoder = build_encoder(
            self.folder,
            self.overrides,
            backend=self.backend,
            device=self.device,
            seeded=self.seeded,
        )
        if embedding_size is not None and embedding_size != self.encoder.embedding_size:
            raise InputError(
                f"R-PYAPI-2: embedding_size={embedding_size!r}, but the model's projection gives "
                f"{self.encoder.embedding_size} (adding a projection is not supported)"
            )
        self._module: Any = None

    # PyLate's attributes of the resolved settings.
    @property
    def query_prefix(self) -> str:
        return self.encoder.settings.query_prefix

    @property
    def document_prefix(self) -> str:
        return self.encoder.settings.document_prefix

    @property
    def query_length(self) -> int:
        return self.encoder.settings.query_length

    @property
    def document_length(self) -> int:
        return self.encoder.settings.document_length

    @property
    def do_query_expansion(self) -> bool:
        return self.encoder.settings.do_query_expansion

    @property
    def attend_to_expansion_tokens(self) -> bool:
        return self.encoder.settings.attend_to_expansion_tokens

    @property
    def skiplist_words(self) -> list[str]:
        return list(self.encoder.settings.skiplist_words)

    @property
    def similarity_fn_name(self) -> str:
        return "MaxSim"

    def get_sentence_embedding_dimension(self) -> int:
        """Components of each token embedding."""
        return self.encoder.embedding_size

    @property
    def module(self) -> Any:
        """The trainable ``lateint_ref.training.ColBERT`` (a ``torch.nn.Module``) of the same
        weights, built on first use (R-PYAPI-10); needs torch."""
        if self._module is None:
            from lateint_ref.training.model import ColBERT as Trainable

            device = "cpu" if self.backend == "numpy" else self.device
            parts = model_parts(self.folder, self.overrides, self.seeded)
            self._module = Trainable(self.folder, parts, device)
        return self._module

    def parameters(self) -> Any:
        """The trainable module's parameters, for an optimizer (builds ``module``)."""
        return self.module.parameters()

    def encode(
        self,
        sentences: str | list[str] | list[list[str]],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        padding: bool = False,
        device: str | None = None,
        normalize_embeddings: bool = True,
        is_query: bool = True,
        pool_factor: int = 1,
        protected_tokens: int = 1,
        output_value: str | None = "token_embeddings",
    ) -> Any:
        """PyLate's ``encode`` (R-PYAPI-3): a string gives one ``[n_tokens, dim] float32`` array, a
        list of strings a list of them in input order, a list of lists of strings a list of such
        lists. ``is_query`` defaults to True, as in PyLate: queries have ``query_length`` rows
        (expansion), documents their kept tokens (R-ENC-7). ``convert_to_tensor=True`` (or
        ``convert_to_numpy=False``) gives torch tensors instead, each inner list of a list of lists
        stacked. ``device`` and ``protected_tokens`` are accepted and ignored."""
        options = {
            "prompt_name": prompt_name,
            "prompt": prompt,
            "precision": precision,
            "padding": padding,
            "normalize_embeddings": normalize_embeddings,
            "pool_factor": pool_factor,
            "output_value": output_value,
        }
        for name, default in ENCODE_DEFAULTS.items():
            if options[name] != default:
                raise InputError(
                    f"R-PYAPI-3: {name}={options[name]!r} is not supported (only {default!r})"
                )
        is_query = _checks.flag(is_query, "is_query", "R-PYAPI-3")
        tensors = not _checks.flag(convert_to_numpy, "convert_to_numpy", "R-PYAPI-3")
        tensors = tensors or _checks.flag(convert_to_tensor, "convert_to_tensor", "R-PYAPI-3")
        if isinstance(sentences, (list, tuple)) and sentences and isinstance(sentences[0], list):
            out = [
                self._encode(group, is_query, batch_size, show_progress_bar, tensors)
                for group in sentences
            ]
            if tensors:
                import torch

                return [torch.stack(group) if group else torch.zeros(0) for group in out]
            return out
        if isinstance(sentences, str):
            return self._encode([sentences], is_query, batch_size, show_progress_bar, tensors)[0]
        if not isinstance(sentences, (list, tuple)):
            raise InputError(
                "R-PYAPI-3: sentences must be a string, a list of strings or a list of lists of "
                f"strings, got {type(sentences).__name__}"
            )
        texts: list[Any] = list(sentences)  # checked to be strings by the encoder (R-ENC-10)
        return self._encode(texts, is_query, batch_size, show_progress_bar, tensors)

    def _encode(
        self, texts: list[str], is_query: bool, batch_size: int, show: bool | None, tensors: bool
    ) -> list[Any]:
        if self._module is None:
            out = self.encoder.encode(
                texts, is_query=is_query, batch_size=batch_size, show_progress=show
            )
        else:
            out = self._encode_module(texts, is_query, batch_size)
        if not tensors:
            return out
        import torch

        return [torch.from_numpy(x) for x in out]

    def _encode_module(self, texts: list[str], is_query: bool, batch_size: int) -> list[Any]:
        """The trainable module's current weights, in eval mode and without gradients, its mode
        restored after; the same rows and normalisation as the encoder (R-ENC-7)."""
        import torch

        module = self.module
        size = _checks.positive(batch_size, "batch_size", "R-PYAPI-3")
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise InputError(f"R-PYAPI-3: sentences must be strings, got {bad[0]}")
        was_training = module.training
        module.eval()
        out: list[np.ndarray] = []
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), size):
                    x, kept = module.embed(texts[start : start + size], is_query=is_query)
                    x, kept = x.float().cpu().numpy(), kept.cpu().numpy()
                    out.extend(np.ascontiguousarray(x[i][kept[i]]) for i in range(len(x)))
        finally:
            module.train(was_training)
        return out

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """R-PYAPI-4: the PyLate layout (R-ENC-9), with the trained weights when ``module`` was
        built; ``models.ColBERT(path)``, PyLate and ``Encoder.from_pretrained`` load it."""
        if self._module is not None:
            self._module.save_pretrained(path)
        else:
            self.encoder.save_pretrained(path)

    save = save_pretrained
