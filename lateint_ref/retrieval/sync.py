"""What a build does with each corpus item over the index already there (spec/retriever.md
R-RET-7): documents the index lacks are added, documents whose text changed are replaced,
unchanged ones skipped, empty ones skipped (and their stale versions removed), and the live
documents the corpus no longer holds counted, to be removed when pruning. A corpus none of whose
documents the index holds is another collection: refused unless appending, before anything is
encoded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from lateint_ref.errors import InputError
from lateint_ref.index.writer import external_ids


@dataclass
class Counts:
    """A build's documents by what became of them (R-RET-7)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    empty: int = 0  # skipped: empty or whitespace-only texts
    not_in_corpus: int = 0  # live documents of the index the corpus lacks, kept (no pruning)
    truncated: int = 0  # encoded documents longer than the document length, cut to it

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def doc_id(item_id: Any) -> Any:
    """An id as the index keeps it (R-INDEX-5): a Python int or a string."""
    ext = external_ids([item_id], 1)
    return ext.tolist()[0] if hasattr(ext, "tolist") else next(iter(ext))


class Sync:
    """Filters a build's ``(id, text)`` pairs against ``stored``, the texts of the index's live
    documents by id (empty for a new index), counting as it goes."""

    def __init__(self, stored: dict[Any, str], *, append: bool, keep_empty: bool, path: Any):
        self.stored = stored
        self.keep_empty = keep_empty
        self.path = path
        self.counts = Counts()
        self.read = 0  # corpus items consumed
        self._in_corpus: set[Any] = set()
        self._stale: list[Any] = []  # live documents whose text is now empty
        self._known = append or not stored  # a document of the index was seen, or none can be

    def items(self, pairs: Iterable[tuple[Any, str]]) -> Iterator[tuple[Any, str]]:
        """The pairs to index, in corpus order. Until a document of the index is seen, new ones
        are held back, so that a corpus with none of them is refused before any work."""
        held: list[tuple[Any, str]] = []
        for item_id, text in pairs:
            self.read += 1
            key = doc_id(item_id)
            self._in_corpus.add(key)
            old = self.stored.get(key)
            if not self.keep_empty and not text.strip():
                self.counts.empty += 1
                if old is not None:
                    self._stale.append(key)
                continue
            if old is not None:
                self._known = True
            elif not self._known:
                held.append((key, text))
                continue
            if held:
                self.counts.added += len(held)
                yield from held
                held = []
            if old is None:
                self.counts.added += 1
            elif old == text:
                self.counts.unchanged += 1
                continue
            else:
                self.counts.updated += 1
            yield key, text
        if held:
            raise InputError(
                f"R-RET-7: none of the corpus's {len(held)} documents is in the index at "
                f"{self.path} ({len(self.stored)} documents): another collection? To add them "
                "to this index, append (--append); to index them alone, use another folder"
            )

    def replaces(self, ids: list[Any]) -> bool:
        """Whether a chunk replaces documents of the index (it is then added with upsert)."""
        return any(i in self.stored for i in ids)

    def removals(self, prune: bool) -> list[Any]:
        """The live documents to delete once the corpus is read: those whose text is now empty,
        and with ``prune`` those the corpus lacks (else counted as ``not_in_corpus``)."""
        missing = [i for i in self.stored if i not in self._in_corpus]
        gone = self._stale + (missing if prune else [])
        self.counts.not_in_corpus = 0 if prune else len(missing)
        self.counts.removed = len(gone)
        return gone
