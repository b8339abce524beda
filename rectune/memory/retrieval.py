"""Retrieval index: skill sections, learned rules and elite summaries in a Chroma collection.

The index lives in ``<workspace>/index`` and is *derived*: `MemoryIndex.rebuild` recreates it
from the skillhub and the journals, so deleting the folder loses nothing.

The default embedding, `HashingEmbedding`, is computed locally (hashed word tokens plus
character n-grams), so nothing is downloaded and no network is needed. It is registered with
Chroma under the name ``rectune_hashing`` so that a reopened collection rebuilds it from its
stored configuration. A Gemini embedding can be used instead through `gemini_embedding`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

# Chroma reads this when its settings are built; we also pass it explicitly below.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings
from chromadb.utils.embedding_functions import register_embedding_function

from rectune.domain.candidates import Candidate
from rectune.domain.metrics import MetricSpec
from rectune.domain.rules import LearnedRule
from rectune.memory.elites import select_elites
from rectune.memory.journal_store import JournalStore
from rectune.skillhub.hub import SkillHub
from rectune.skillhub.model import REQUIRED_SECTIONS, Skill

__all__ = [
    "HashingEmbedding",
    "Hit",
    "MemoryIndex",
    "elite_summary",
    "gemini_embedding",
]

_TOKEN = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


@register_embedding_function
class HashingEmbedding(EmbeddingFunction[Documents]):
    """Offline text embedding: hashed word tokens, word parts and character n-grams.

    Whole identifiers such as ``vf_w_click`` are kept as one token (and also split into their
    parts) so that a query naming a knob lands on the texts that name it. Vectors are
    sublinear-TF weighted and L2-normalized.

    Example:
        >>> ef = HashingEmbedding(dim=64)
        >>> v = ef(["raise vf_w_click"])[0]
        >>> round(float((v ** 2).sum()), 6)
        1.0
    """

    def __init__(self, dim: int = 1024, ngram: int = 3) -> None:
        self.dim = int(dim)
        self.ngram = int(ngram)

    @staticmethod
    def name() -> str:
        return "rectune_hashing"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim, "ngram": self.ngram}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding(dim=int(config.get("dim", 1024)), ngram=int(config.get("ngram", 3)))

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> Any:
        return ["cosine", "l2", "ip"]

    def _features(self, text: str) -> dict[str, float]:
        feats: dict[str, float] = {}
        for tok in _TOKEN.findall(text.lower()):
            feats["w:" + tok] = feats.get("w:" + tok, 0.0) + 2.0
            if "_" in tok:
                for part in tok.split("_"):
                    feats["p:" + part] = feats.get("p:" + part, 0.0) + 0.5
            padded = f" {tok} "
            for i in range(max(len(padded) - self.ngram + 1, 1)):
                g = "c:" + padded[i : i + self.ngram]
                feats[g] = feats.get(g, 0.0) + 0.25
        return feats

    def __call__(self, input: Documents) -> Embeddings:
        out: list[np.ndarray] = []
        for text in input:
            vec = np.zeros(self.dim, dtype=np.float32)
            for feat, count in self._features(str(text)).items():
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "big")
                sign = 1.0 if (h >> 63) & 1 else -1.0
                vec[h % self.dim] += sign * (1.0 + np.log1p(count))
            norm = float(np.linalg.norm(vec))
            if norm == 0.0:
                vec[0] = 1.0  # Chroma rejects all-zero vectors (e.g. an empty document).
                norm = 1.0
            out.append(vec / norm)
        return cast(Embeddings, out)


def gemini_embedding(
    api_key: str | None = None, model_name: str = "gemini-embedding-001"
) -> EmbeddingFunction[Documents]:
    """Chroma's Google embedding function, for workspaces configured to use Gemini.

    The key comes from `api_key` or the ``GOOGLE_API_KEY`` / ``GEMINI_API_KEY`` environment
    variable. This calls a remote service: tests never use it.
    """
    from chromadb.utils.embedding_functions import GoogleGenerativeAiEmbeddingFunction

    key = api_key or os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
    return cast(
        EmbeddingFunction[Documents],
        GoogleGenerativeAiEmbeddingFunction(api_key=key, model_name=model_name),
    )


@dataclass(frozen=True)
class Hit:
    """One retrieved document."""

    id: str
    text: str
    kind: str
    task: str
    stage: str
    distance: float
    metadata: Mapping[str, Any]


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def elite_summary(candidate: Candidate, metrics: Sequence[MetricSpec]) -> str:
    """A one-paragraph description of an elite for the index."""
    parts = [f"Elite configuration {candidate.id} of task {candidate.task}"]
    if candidate.delta:
        parts.append("changes " + ", ".join(f"{k}={v}" for k, v in candidate.delta.items()))
    parts.append("config " + ", ".join(f"{k}={v}" for k, v in candidate.config.items()))
    if candidate.result is not None:
        res = [
            f"{m.name} {_pct(candidate.result.metrics[m.name].relative_lift)}"
            for m in metrics
            if m.name in candidate.result.metrics
        ]
        parts.append("results " + ", ".join(res))
    if candidate.hypothesis:
        parts.append("hypothesis: " + candidate.hypothesis)
    return "; ".join(parts) + "."


def _rule_text(rule: LearnedRule) -> str:
    extra = f" Parameters: {', '.join(rule.parameters)}." if rule.parameters else ""
    if rule.constraint is not None:
        extra += f" Constraint: {rule.constraint}."
    return rule.text + extra


class MemoryIndex:
    """The Chroma collection of a workspace.

    Args:
        path: Folder of the persistent index (``<workspace>/index`` by convention).
        embedding: Embedding function; the offline `HashingEmbedding` by default.

    Example:
        >>> import tempfile
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> idx = MemoryIndex(Path(tempfile.mkdtemp()) / "index")
        >>> idx.add_skill(SkillHub(shipped_skills_dir()).get("diversity")) > 0
        True
        >>> idx.query("topic cap", k=1)[0].task
        'diversity'
    """

    COLLECTION = "rectune_memory"

    def __init__(
        self, path: Path | str, embedding: EmbeddingFunction[Documents] | None = None
    ) -> None:
        self.path = Path(path)
        self.embedding: EmbeddingFunction[Documents] = embedding or HashingEmbedding()
        self.path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(self.path),
            settings=Settings(anonymized_telemetry=False),
        )
        self._collection = self._open()

    @classmethod
    def in_workspace(cls, workspace: Path | str, **kwargs: Any) -> MemoryIndex:
        """The index of a workspace: ``<workspace>/index``."""
        return cls(Path(workspace) / "index", **kwargs)

    @property
    def collection_name(self) -> str:
        # One collection per embedding, so switching embeddings never mixes vector spaces.
        return f"{self.COLLECTION}_{self.embedding.name()}"

    def _open(self) -> Any:
        return self._client.get_or_create_collection(
            name=self.collection_name,
            embedding_function=self.embedding,  # type: ignore[arg-type]
            metadata={"hnsw:space": "cosine"},
        )

    def count(self) -> int:
        """Number of indexed documents."""
        return int(self._collection.count())

    def _upsert(self, ids: list[str], docs: list[str], metas: list[dict[str, Any]]) -> int:
        if ids:
            self._collection.upsert(ids=ids, documents=docs, metadatas=metas)
        return len(ids)

    def add_skill(self, skill: Skill) -> int:
        """Index the sections and active learned rules of `skill`; returns documents written."""
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        base = {"task": skill.name, "stage": skill.stage, "skill_version": skill.version}
        for heading in [*REQUIRED_SECTIONS, *skill.sections.extra]:
            text = skill.section_text(heading)
            slug = re.sub(r"[^a-z0-9]+", "_", heading.lower()).strip("_")
            ids.append(f"{skill.name}:section:{slug}")
            docs.append(f"{skill.name} / {heading}: {text}")
            metas.append({**base, "kind": "section", "section": heading})
        for p in skill.space:
            ids.append(f"{skill.name}:parameter:{p.name}")
            docs.append(
                f"Parameter {p.name} of {skill.name} {p.describe_bounds()}: {p.description}"
            )
            metas.append({**base, "kind": "parameter", "parameter": p.name})
        # Retired rules leave the index so prompts never resurrect them.
        stale = self._collection.get(where={"$and": [{"task": skill.name}, {"kind": "rule"}]})
        keep = {f"{skill.name}:rule:{r.id}" for r in skill.active_rules}
        drop = [i for i in stale["ids"] if i not in keep]
        if drop:
            self._collection.delete(ids=drop)
        for r in skill.active_rules:
            ids.append(f"{skill.name}:rule:{r.id}")
            docs.append(_rule_text(r))
            metas.append(
                {
                    **base,
                    "kind": "rule",
                    "rule_id": r.id,
                    "parameters": ",".join(r.parameters),
                    "experiment_ids": ",".join(r.experiment_ids),
                }
            )
        return self._upsert(ids, docs, metas)

    def add_elites(
        self, skill: Skill, candidates: Sequence[Candidate], *, max_size: int | None = 8
    ) -> int:
        """Index the current elites of the skill's task (older elite entries are replaced)."""
        sel = select_elites(candidates, skill.metrics, max_size=max_size)
        by_id = {c.id: c for c in candidates}
        old = self._collection.get(where={"$and": [{"task": skill.name}, {"kind": "elite"}]})
        if old["ids"]:
            self._collection.delete(ids=old["ids"])
        ids, docs, metas = [], [], []
        for rank, cid in enumerate(sel.elite_ids):
            c = by_id[cid]
            ids.append(f"{skill.name}:elite:{cid}")
            docs.append(elite_summary(c, skill.metrics))
            metas.append(
                {
                    "task": skill.name,
                    "stage": skill.stage,
                    "kind": "elite",
                    "candidate_id": cid,
                    "rank": rank,
                    "experiment_id": c.experiment_id or "",
                }
            )
        return self._upsert(ids, docs, metas)

    def query(
        self,
        text: str,
        k: int = 5,
        *,
        task: str | None = None,
        stage: str | None = None,
        kind: str | None = None,
    ) -> list[Hit]:
        """The `k` nearest documents to `text`, optionally filtered by task, stage and kind."""
        if self.count() == 0:
            return []
        filters = [
            {key: value}
            for key, value in (("task", task), ("stage", stage), ("kind", kind))
            if value is not None
        ]
        where: dict[str, Any] | None = None
        if len(filters) == 1:
            where = filters[0]
        elif filters:
            where = {"$and": filters}
        res = self._collection.query(
            query_texts=[text], n_results=min(k, self.count()), where=where
        )
        hits: list[Hit] = []
        for i, doc_id in enumerate(res["ids"][0]):
            meta = dict(res["metadatas"][0][i] or {})
            hits.append(
                Hit(
                    id=doc_id,
                    text=str(res["documents"][0][i]),
                    kind=str(meta.get("kind", "")),
                    task=str(meta.get("task", "")),
                    stage=str(meta.get("stage", "")),
                    distance=float(res["distances"][0][i]),
                    metadata=meta,
                )
            )
        return hits

    def rebuild(self, hub: SkillHub, journal: JournalStore, *, max_elites: int | None = 8) -> int:
        """Drop the collection and re-index every active skill and its journal's elites."""
        # A missing collection is what we want anyway.
        with contextlib.suppress(Exception):
            self._client.delete_collection(self.collection_name)
        self._collection = self._open()
        total = 0
        tasks = set(journal.tasks())
        for skill in hub.list():
            total += self.add_skill(skill)
            if skill.name in tasks:
                total += self.add_elites(skill, journal.candidates(skill.name), max_size=max_elites)
        return total

    def close(self) -> None:
        """Release the client (Chroma keeps a per-path cache of clients)."""
        with contextlib.suppress(Exception):
            self._client.clear_system_cache()

    @staticmethod
    def destroy(path: Path | str) -> None:
        """Delete an index folder; it can always be rebuilt."""
        shutil.rmtree(path, ignore_errors=True)
