"""Retrieval index: offline embedding, parameter queries, reopen and rebuild."""

from __future__ import annotations

import shutil
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings

from rectune.domain import ArmResult, Candidate, LearnedRule, MetricResult, RuleEvidence
from rectune.memory import Journal
from rectune.memory.retrieval import HashingEmbedding, MemoryIndex
from rectune.skillhub import SkillHub


@pytest.fixture
def hub(tmp_path: Path) -> SkillHub:
    hub = SkillHub.in_workspace(tmp_path)
    rules = [
        LearnedRule(
            id="R-mmr", text="An MMR lambda above 0.5 cost clicks in three tests.",
            parameters=["div_mmr_lambda"], experiment_ids=["e1"],
            evidence=[RuleEvidence(metric="clicks", effect=-0.02, ci_low=-0.03, ci_high=-0.01)],
        ),
        LearnedRule(
            id="R-fatigue", text="A stronger fatigue penalty helped retention.",
            parameters=["div_fatigue_penalty"], experiment_ids=["e2"],
        ),
        LearnedRule(
            id="R-cap", text="Topic caps of 2 hurt narrow-interest users.",
            parameters=["div_topic_cap"], experiment_ids=["e3"],
        ),
    ]
    hub.add_rules("diversity", rules, "test rules")
    hub.add_rules("value_fusion", [LearnedRule(
        id="R-neg", text="A negative-feedback penalty of 2 lowered the negative rate.",
        parameters=["vf_w_negative"], experiment_ids=["e4"])], "test rules")
    return hub


def _journal(tmp_path: Path) -> Journal:
    j = Journal.in_workspace(tmp_path)
    lift = 0.02
    mr = {
        name: MetricResult(metric=name, control_mean=1, treatment_mean=1 + lift,
                           relative_lift=lift, ci_low=lift - 0.01, ci_high=lift + 0.01,
                           p_value=0.01)
        for name in ("topic_diversity", "retention", "dwell_time", "clicks")
    }
    mr["negative_rate"] = MetricResult(metric="negative_rate", control_mean=1,
                                       treatment_mean=1, relative_lift=0.0, ci_low=-0.01,
                                       ci_high=0.01, p_value=1)
    c = Candidate(
        id="elite-1", task="diversity", round=1, delta={"div_mmr_lambda": 0.3},
        config={"div_mmr_lambda": 0.3, "div_topic_cap": 6, "div_creator_cap": 4,
                "div_fatigue_penalty": 0.1, "div_fatigue_threshold": 8},
        experiment_id="e9", result=ArmResult(arm="a", metrics=mr),
    )
    j.add_candidates("diversity", [c])
    return j


def test_embedding_is_offline_normalized_and_registered() -> None:
    from chromadb.utils.embedding_functions import known_embedding_functions

    ef = HashingEmbedding(dim=256)
    a, _ = ef(["div_mmr_lambda relevance", "completely different words"])
    assert abs(float((a**2).sum()) - 1) < 1e-6 and len(a) == 256
    assert known_embedding_functions["rectune_hashing"] is HashingEmbedding
    assert HashingEmbedding.build_from_config(ef.get_config()).dim == 256
    assert not ef.is_legacy()


@pytest.mark.parametrize(
    ("query", "rule"),
    [
        ("what do we know about div_mmr_lambda", "R-mmr"),
        ("fatigue penalty effect", "R-fatigue"),
        ("div_topic_cap", "R-cap"),
        ("vf_w_negative penalty", "R-neg"),
    ],
)
def test_rule_naming_parameter_in_top3(
    hub: SkillHub, tmp_path: Path, query: str, rule: str
) -> None:
    idx = MemoryIndex.in_workspace(tmp_path)
    idx.rebuild(hub, _journal(tmp_path))
    hits = idx.query(query, k=3, kind="rule")
    assert any(h.metadata.get("rule_id") == rule for h in hits)
    hits = idx.query(query, k=3)  # also among every kind of document
    assert any(h.metadata.get("rule_id") == rule for h in hits), [h.id for h in hits]


def test_filters_reopen_and_rebuild(hub: SkillHub, tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    idx = MemoryIndex.in_workspace(tmp_path)
    n = idx.rebuild(hub, journal)
    assert n == idx.count() > 0
    elites = idx.query("mmr lambda elite", k=5, kind="elite")
    assert [h.metadata["candidate_id"] for h in elites] == ["elite-1"]
    assert all(h.task == "diversity" for h in idx.query("weights", k=5, task="diversity"))
    assert all(h.stage == "ranking" for h in idx.query("weights", k=5, stage="ranking"))
    idx.close()

    # A fresh client opening the folder without naming the embedding still works.
    client = chromadb.PersistentClient(path=str(tmp_path / "index"),
                                       settings=Settings(anonymized_telemetry=False))
    col = client.get_collection(MemoryIndex.COLLECTION + "_rectune_hashing")
    res = col.query(query_texts=["div_mmr_lambda"], n_results=3)
    assert "diversity:rule:R-mmr" in res["ids"][0]

    reopened = MemoryIndex.in_workspace(tmp_path)
    assert reopened.count() == n
    reopened.close()

    # The index is derived: throw it away and rebuild the same content.
    MemoryIndex.destroy(tmp_path / "index")
    assert not (tmp_path / "index").exists()
    fresh = MemoryIndex.in_workspace(tmp_path)
    assert fresh.count() == 0 and fresh.query("anything") == []
    assert fresh.rebuild(hub, journal) == n
    assert any(h.metadata.get("rule_id") == "R-mmr" for h in fresh.query("div_mmr_lambda", k=3))
    fresh.close()


def test_retired_rules_leave_the_index(hub: SkillHub, tmp_path: Path) -> None:
    idx = MemoryIndex.in_workspace(tmp_path)
    idx.add_skill(hub.get("diversity"))
    hub.retire_rules("diversity", {"R-mmr": "superseded"}, "retire")
    idx.add_skill(hub.get("diversity"))
    ids = [h.id for h in idx.query("div_mmr_lambda", k=10, kind="rule")]
    assert "diversity:rule:R-mmr" not in ids
    idx.close()
    shutil.rmtree(tmp_path / "index")
