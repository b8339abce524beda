"""`SkillHub`: the skills of a workspace, with versioning, invariants and drafts.

Skills are data. Any folder under the hub root that holds a ``SKILL.md`` is a skill, so a
folder dropped in by a person works without code changes.

With Postgres storage (``SkillHub(root, storage=URL)``) the versions live in the database
(`rectune.storage.pg_skills`): it is the source of truth, every host's SKILL.md is refreshed
from its latest version before it is read, a skill found only on disk is recorded there as
its first version, and writers of one skill hold its lock in the database across hosts.
"""

from __future__ import annotations

import builtins
import hashlib
import shutil
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path

from filelock import FileLock, Timeout

from rectune.domain.parameters import CategoricalParameter
from rectune.domain.rules import LearnedRule, rules_after
from rectune.durable import atomic_write_text
from rectune.skillhub.errors import (
    SkillError,
    SkillInvariantError,
    SkillNotFoundError,
    SkillValidationError,
)
from rectune.skillhub.invariants import agent_change_violations
from rectune.skillhub.loader import load_skill, parse_skill
from rectune.skillhub.model import Skill, SkillStatus
from rectune.skillhub.versions import Author, VersionEntry, VersionLog, VersionStore
from rectune.skillhub.writer import render_skill

__all__ = ["SkillHub", "shipped_skills_dir"]

SKILL_FILE = "SKILL.md"


def shipped_skills_dir() -> Path:
    """The folder holding the skills shipped with rectune (the repository's ``skills/``).

    Looks next to the package first (a source checkout), then inside the package
    (``rectune/_skills``, for an installed wheel).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent / "skills", here.parent / "_skills"):
        if candidate.is_dir() and any(candidate.glob(f"*/{SKILL_FILE}")):
            return candidate
    raise SkillError(f"shipped skills not found next to {here.parent} (looked for skills/)")


class SkillHub:
    """The skills under `root`, usually ``<workspace>/skills``.

    Args:
        root: Folder with one sub-folder per skill.
        lock_timeout: Seconds a writer waits for another writer of the same skill.
        storage: ``local`` (versions in each skill folder) or a ``postgresql://`` URL
            (versions in the database); None means ``local``.

    Example:
        >>> import tempfile
        >>> hub = SkillHub(Path(tempfile.mkdtemp()) / "skills")
        >>> hub.install_shipped()
        ['diversity', 'value_based_retrieval', 'value_fusion']
        >>> hub.get("value_fusion").version
        1
    """

    def __init__(
        self, root: Path | str, *, lock_timeout: float = 10.0, storage: str | None = None
    ) -> None:
        from rectune.storage.settings import LOCAL, is_postgres, parse_storage

        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.storage = LOCAL if storage is None else parse_storage(storage)
        self._db_url = self.storage if is_postgres(self.storage) else None
        self._locks: dict[str, FileLock] = {}
        self._db_locks: dict[str, tuple[int, ExitStack]] = {}

    def _store(self, name: str) -> VersionLog:
        """The version history of skill `name` on this hub's storage."""
        if self._db_url is None:
            return VersionStore(self.root / name)
        from rectune.storage.pg_skills import PostgresVersionStore

        return PostgresVersionStore(self._db_url, name)

    def _sync(self, name: str) -> None:
        """Postgres storage: make SKILL.md the database's latest version, or record a skill
        found only on disk as its first version."""
        if self._db_url is None:
            return
        store = self._store(name)
        entries = store.entries()
        path = self.path(name)
        disk = path.read_text(encoding="utf-8") if path.is_file() else None
        if entries:
            latest = entries[-1]
            if disk is None or hashlib.sha256(disk.encode()).hexdigest() != latest.sha256:
                text = store.read(latest.version)
                with self._locked(name):
                    atomic_write_text(path, text)
            return
        if disk is not None:
            with self._locked(name):
                if store.latest() == 0:
                    found = parse_skill(disk, path=path)
                    store.record(found.version, disk, "initial version found on disk", "system")

    @classmethod
    def in_workspace(
        cls, workspace: Path | str, *, install: bool = True, storage: str | None = None
    ) -> SkillHub:
        """The hub of a workspace on its storage; with `install`, shipped skills it lacks are
        copied in.

        `storage` None means the workspace's setting (`rectune.storage.resolve_storage`), so a
        host sharing a Postgres storage reads the database's current version of each skill,
        not whatever copy its own folder holds.
        """
        from rectune.storage.settings import resolve_storage

        hub = cls(Path(workspace) / "skills", storage=resolve_storage(workspace, storage))
        if install:
            hub.install_shipped()
        return hub

    # ----------------------------------------------------------------- reading

    def path(self, name: str) -> Path:
        """The SKILL.md of skill `name` (whether or not it exists)."""
        return self.root / name / SKILL_FILE

    def exists(self, name: str) -> bool:
        """Whether a skill folder called `name` holds a SKILL.md."""
        return self.path(name).is_file()

    def _folders(self) -> builtins.list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(
            d for d in self.root.iterdir()
            if d.is_dir() and not d.name.startswith(".") and (d / SKILL_FILE).is_file()
        )

    def scan(
        self,
    ) -> tuple[builtins.list[Skill], builtins.list[SkillValidationError]]:
        """Every skill (drafts included) plus the errors of the folders that do not load."""
        skills: builtins.list[Skill] = []
        errors: builtins.list[SkillValidationError] = []
        if self._db_url is not None:
            from rectune.storage.pg_skills import stored_skills

            on_disk = {f.name for f in self._folders()}
            for name in sorted(on_disk | set(stored_skills(self._db_url))):
                try:
                    self._sync(name)
                except SkillValidationError:
                    continue  # reported below as a broken folder, never recorded
        for folder in self._folders():
            try:
                skill = load_skill(folder / SKILL_FILE)
            except SkillValidationError as exc:
                errors.append(exc)
                continue
            if skill.name != folder.name:
                errors.append(
                    SkillValidationError(
                        folder / SKILL_FILE, "name", f"{skill.name!r} must equal the folder name"
                    )
                )
                continue
            skills.append(skill)
        return skills, errors

    def list(self, *, include_drafts: bool = False) -> list[Skill]:
        """Active skills (and drafts on request) that load, sorted by name.

        A folder whose SKILL.md is invalid is left out (see `broken`), so one broken skill
        never stops the others.
        """
        skills, _ = self.scan()
        return [s for s in skills if include_drafts or s.status is SkillStatus.ACTIVE]

    def broken(self) -> builtins.list[SkillValidationError]:
        """The skill folders that do not load, each with its error."""
        return self.scan()[1]

    def names(self, *, include_drafts: bool = False) -> builtins.list[str]:
        """Names of the skills `list` returns."""
        return [s.name for s in self.list(include_drafts=include_drafts)]

    def get(self, name: str) -> Skill:
        """Load skill `name` (active or draft).

        A version that was logged but never became current (the writer died between the log
        and SKILL.md) is completed first, so it is neither lost nor logged twice.
        """
        self._sync(name)
        if not self.exists(name):
            known = [f.name for f in self._folders()]
            raise SkillNotFoundError(f"no skill {name!r} in {self.root}; skills: {known}")
        skill = load_skill(self.path(name))
        if self._store(name).latest() > skill.version:
            with self._locked(name):
                skill = self._roll_forward(name)
        if skill.name != name:
            raise SkillValidationError(
                self.path(name), "name", f"{skill.name!r} must equal the folder name {name!r}"
            )
        return skill

    def versions(self, name: str) -> builtins.list[VersionEntry]:
        """The version log of skill `name`, oldest first."""
        self.get(name)
        return self._store(name).entries()

    def get_version(self, name: str, version: int) -> Skill:
        """Skill `name` as it was at `version`."""
        store = self._store(name)
        return parse_skill(store.read(version), path=store.path(version))

    def diff(self, name: str, a: int, b: int | None = None) -> str:
        """Unified diff of skill `name` from version `a` to `b` (default: the current one)."""
        store = self._store(name)
        return store.diff(a, store.latest() if b is None else b)

    # ----------------------------------------------------------------- writing

    def _lock(self, name: str) -> FileLock:
        # One lock object per skill: a FileLock is re-entrant only through the same object,
        # and reading a skill may need the lock its writer already holds (roll-forward).
        if name not in self._locks:
            (self.root / name).mkdir(parents=True, exist_ok=True)
            self._locks[name] = FileLock(str(self.root / name / ".lock"), timeout=self.lock_timeout)
        return self._locks[name]

    def _roll_forward(self, name: str) -> Skill:
        # Callers hold the lock. The log is written before SKILL.md, so a logged snapshot
        # newer than SKILL.md is a change that was decided but not finished: finish it.
        store = self._store(name)
        current = load_skill(self.path(name))
        latest = store.latest()
        if latest <= current.version:
            return current
        text = store.read(latest)
        parse_skill(text, path=store.path(latest))
        atomic_write_text(self.path(name), text)
        return load_skill(self.path(name))

    def _write(
        self,
        skill: Skill,
        reason: str,
        author: Author,
        actor: str = "",
        rollback_of: int | None = None,
    ) -> Skill:
        # Callers hold the lock. Snapshot first, then the log, then the current file: a crash in
        # between leaves SKILL.md at the previous version, which the log still describes.
        if not reason.strip():
            raise SkillError("every skill change needs a reason")
        name = skill.name
        store = self._store(name)
        current_path = self.path(name)
        self._sync(name)
        if current_path.exists():
            self._roll_forward(name)
        latest = store.latest()
        if latest == 0 and current_path.exists():
            # A folder dropped in by hand: keep what was there as its first logged version.
            text = current_path.read_text(encoding="utf-8")
            found = parse_skill(text, path=current_path)
            store.record(found.version, text, "initial version found on disk", "system")
            latest = found.version
        new = skill.model_copy(update={"version": latest + 1})
        text = render_skill(new)
        checked = parse_skill(text, path=current_path)  # never write what we cannot read back
        store.record(checked.version, text, reason, author, actor, rollback_of)
        atomic_write_text(current_path, text)
        return checked

    def _validated(self, skill: Skill) -> Skill:
        # Objects built with model_copy skip validation; re-run it on the rendered text.
        return parse_skill(render_skill(skill))

    def apply_human_change(
        self, name: str, new_skill: Skill, reason: str, *, actor: str = "human"
    ) -> Skill:
        """Write a change made by a person: anything goes, as long as the skill is valid."""
        if new_skill.name != name:
            raise SkillError(f"skill name {new_skill.name!r} does not match {name!r}")
        checked = self._validated(new_skill)
        with self._locked(name):
            self.get(name)
            return self._write(checked, reason, "human", actor)

    def create(self, skill: Skill, reason: str, *, actor: str = "human") -> Skill:
        """Add a new skill written by a person (fails if the name is taken)."""
        checked = self._validated(skill)
        with self._locked(skill.name):
            if self.exists(skill.name):
                raise SkillError(f"skill {skill.name!r} already exists in {self.root}")
            return self._write(checked, reason, "human", actor)

    def apply_agent_change(
        self, name: str, new_skill: Skill, reason: str, *, actor: str = "skill_agent"
    ) -> Skill:
        """Write an agent's change, or refuse it with every violation listed.

        Raises:
            SkillInvariantError: when the change touches anything beyond appending or retiring
                learned rules and tightening soft bounds; nothing is written then.
        """
        checked = self._validated(new_skill)
        with self._locked(name):
            current = self.get(name)
            violations = agent_change_violations(current, checked)
            if violations:
                raise SkillInvariantError(name, violations)
            if checked.model_copy(update={"version": current.version}) == current:
                return current
            return self._write(checked, reason, "agent", actor)

    def add_rules(
        self, name: str, rules: Iterable[LearnedRule], reason: str, *, actor: str = "skill_agent"
    ) -> Skill:
        """Append learned rules as an agent change."""
        current = self.get(name)
        new = current.model_copy(update={"learned_rules": [*current.learned_rules, *rules]})
        return self.apply_agent_change(name, new, reason, actor=actor)

    def retire_rules(
        self, name: str, retire: Mapping[str, str], reason: str, *, actor: str = "skill_agent"
    ) -> Skill:
        """Retire rules as an agent change; `retire` maps rule id -> why it is retired."""
        return self.apply_learning(name, [], retire, reason, actor=actor)

    def apply_learning(
        self,
        name: str,
        add: Iterable[LearnedRule],
        retire: Mapping[str, str],
        reason: str,
        *,
        actor: str = "skill_agent",
        update: Iterable[LearnedRule] = (),
    ) -> Skill:
        """Add, re-confirm and retire learned rules as one agent change: one new version, or
        nothing (when the result equals the current skill).

        Args:
            name: The skill.
            add: New rules, appended.
            retire: Rule id -> why it is retired.
            reason: The version's reason.
            actor: Who made the change.
            update: Existing active rules with refreshed evidence (same id); the invariants
                allow only the evidence fields to differ.

        Raises:
            SkillError: an unknown rule to retire or update.
            SkillInvariantError: when the change breaks an invariant; nothing is written.
        """
        current = self.get(name)
        update = list(update)
        known = {r.id for r in current.learned_rules}
        unknown = sorted((set(retire) | {r.id for r in update}) - known)
        if unknown:
            raise SkillError(f"skill {name!r}: no learned rules {unknown}")
        rules = rules_after(current.learned_rules, add, retire, update)
        new = current.model_copy(update={"learned_rules": rules})
        return self.apply_agent_change(name, new, reason, actor=actor)

    def tighten_soft_bounds(
        self,
        name: str,
        bounds: Mapping[str, tuple[float, float]],
        reason: str,
        *,
        actor: str = "skill_agent",
    ) -> Skill:
        """Set new soft boxes ``{parameter: (soft_low, soft_high)}`` as an agent change."""
        current = self.get(name)
        params = []
        for p in current.space:
            if p.name in bounds and not isinstance(p, CategoricalParameter):
                lo, hi = bounds[p.name]
                p = type(p).model_validate(
                    {**p.model_dump(), "soft_low": lo, "soft_high": hi}
                )
            params.append(p)
        unknown = sorted(set(bounds) - set(current.space.names))
        if unknown:
            raise SkillError(f"skill {name!r}: unknown parameters {unknown}")
        space = current.space.model_copy(update={"parameters": tuple(params)})
        new = current.model_copy(update={"space": space})
        return self.apply_agent_change(name, new, reason, actor=actor)

    def rollback(self, name: str, to_version: int, reason: str, *, actor: str = "human") -> Skill:
        """Write a new version whose content equals version `to_version`."""
        with self._locked(name):
            old = self.get_version(name, to_version)
            return self._write(old, reason, "human", actor, rollback_of=to_version)

    def propose_draft(
        self,
        new_skill: Skill,
        derived_from: builtins.list[str],
        reason: str,
        *,
        actor: str = "skill_agent",
    ) -> Skill:
        """Write a new skill as a draft; it stays out of `list()` until `enable` is called.

        Raises:
            SkillError: when an active skill of that name exists or a parent is unknown.
        """
        for parent in derived_from:
            if not self.exists(parent):
                raise SkillError(f"draft {new_skill.name!r}: unknown parent skill {parent!r}")
        draft = new_skill.model_copy(
            update={"status": SkillStatus.DRAFT, "derived_from": list(derived_from)}
        )
        checked = self._validated(draft)
        with self._locked(new_skill.name):
            if self.exists(new_skill.name) and self.get(new_skill.name).status is not (
                SkillStatus.DRAFT
            ):
                raise SkillError(
                    f"skill {new_skill.name!r} is active; an agent may only propose drafts"
                )
            return self._write(checked, reason, "agent", actor)

    def enable(self, name: str, reason: str = "enabled by a person", *, actor: str = "human") -> (
        Skill
    ):
        """Turn draft `name` into an active skill (a human action)."""
        with self._locked(name):
            skill = self.get(name)
            if skill.status is SkillStatus.ACTIVE:
                return skill
            return self._write(
                skill.model_copy(update={"status": SkillStatus.ACTIVE}), reason, "human", actor
            )

    def install_shipped(
        self, source: Path | None = None, *, overwrite: bool = False
    ) -> builtins.list[str]:
        """Copy shipped skills the hub lacks (or all, with `overwrite`); returns their names."""
        source = shipped_skills_dir() if source is None else Path(source)
        # The version history is shared with teammates: name the package, not this machine's path.
        origin = "rectune's shipped skills" if source == shipped_skills_dir() else str(source)
        installed: builtins.list[str] = []
        for folder in sorted(p for p in source.iterdir() if (p / SKILL_FILE).is_file()):
            if self.exists(folder.name) and not overwrite:
                continue
            skill = load_skill(folder / SKILL_FILE)
            with self._locked(folder.name):
                if self.exists(folder.name):
                    self._write(skill, f"re-installed from {origin}", "system")
                else:
                    self._write(skill, f"installed from {origin}", "system")
                for extra in folder.iterdir():
                    # Tools and examples shipped next to SKILL.md travel with it.
                    if extra.name in {SKILL_FILE, ".versions", ".lock"}:
                        continue
                    target = self.root / folder.name / extra.name
                    if extra.is_dir():
                        shutil.copytree(extra, target, dirs_exist_ok=True)
                    else:
                        shutil.copy2(extra, target)
            installed.append(folder.name)
        return installed

    def _locked(self, name: str) -> _HubLock:
        return _HubLock(self, self._lock(name), name, self.lock_timeout)

    def _enter_db_lock(self, name: str) -> None:
        # Re-entrant like the file lock: a nested holder only counts.
        if self._db_url is None:
            return
        depth, stack = self._db_locks.get(name, (0, ExitStack()))
        if depth == 0:
            from rectune.storage.pg_skills import skill_lock

            stack.enter_context(skill_lock(self._db_url, name, self.lock_timeout))
        self._db_locks[name] = (depth + 1, stack)

    def _exit_db_lock(self, name: str) -> None:
        if self._db_url is None:
            return
        depth, stack = self._db_locks[name]
        if depth == 1:
            del self._db_locks[name]
            stack.close()
        else:
            self._db_locks[name] = (depth - 1, stack)


class _HubLock:
    """A skill's file lock (and, with Postgres storage, its database lock) that reports a
    timeout as a `SkillError`."""

    def __init__(self, hub: SkillHub, lock: FileLock, name: str, timeout: float) -> None:
        self.hub = hub
        self.lock = lock
        self.name = name
        self.timeout = timeout

    def __enter__(self) -> None:
        try:
            self.lock.acquire()
        except Timeout:
            raise SkillError(
                f"skill {self.name!r} is being written by another process; gave up after "
                f"{self.timeout:g}s (lock file {self.lock.lock_file})"
            ) from None
        try:
            self.hub._enter_db_lock(self.name)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self.hub._exit_db_lock(self.name)
        finally:
            self.lock.release()
