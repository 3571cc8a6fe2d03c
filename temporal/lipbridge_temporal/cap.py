"""The cap workflow: a semaphore per provider holding its jobs in flight to a limit
across every worker (docs/scale.md, Limits). Deterministic, imports nothing of I/O."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError


@dataclass
class CapState:
    """A provider's cap workflow: its limit, who holds a slot, who waits (in order)."""

    provider: str
    limit: int
    holders: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    continue_after: int = 500  # signals a run takes before it continues as new
    # While some wait and all slots are held, every this many seconds the holders whose
    # workflow no longer runs (terminated, timed out: they never released) lose their slot.
    check_every: float = 60.0


@workflow.defn(name="LipbridgeCap")
class CapWorkflow:
    """A semaphore: at most ``limit`` job workflows hold a slot at a provider, whichever
    worker runs them. ``acquire`` (by signal-with-start) queues a workflow id, ``granted``
    is signalled to it in turn, ``release`` frees its slot. Continues as new every few
    hundred signals, so its history stays small however long it lives. A holder that
    ended without releasing (a terminated workflow runs no ``finally``) is found by a
    check of the holders' status, a local activity, while others wait for a slot."""

    def __init__(self) -> None:
        self._state = CapState(provider="", limit=1)
        self._signals = 0
        self._limit_given = False  # by an acquire of this run
        self._released: set[str] = set()  # by this run: also before it began
        # Holders that asked again: told ``granted`` again, on the slot they hold. A new
        # run of the same workflow id (a reset) asks again while its old run is counted,
        # and a replayed acquire (a worker lost before its marker was recorded) too.
        self._again: list[str] = []

    @workflow.signal(name="acquire")
    def acquire(self, who: str, limit: int) -> None:
        self._signals += 1
        self._state.limit = max(1, limit)  # the latest start's cap wins
        self._limit_given = True
        self._released.discard(who)
        if who in self._state.holders:
            self._again.append(who)
        elif who not in self._state.waiting:
            self._state.waiting.append(who)

    @workflow.signal(name="release")
    def release(self, who: str) -> None:
        self._signals += 1
        self._drop(who)

    def _drop(self, who: str) -> None:
        self._released.add(who)
        for queue in (self._state.holders, self._state.waiting):
            if who in queue:
                queue.remove(who)

    @workflow.query(name="holders")
    def holders(self) -> list[str]:
        return list(self._state.holders)

    @workflow.run
    async def run(self, state: CapState) -> None:
        # The previous run's holders and queue (when continued as new), less those that
        # released their slot before this run began; signals that came first kept.
        known = set(self._state.holders) | set(self._state.waiting) | self._released
        self._state.holders[:0] = [h for h in state.holders if h not in known]
        self._state.waiting[:0] = [w for w in state.waiting if w not in known]
        if not self._limit_given:
            self._state.limit = state.limit
        self._state.provider = state.provider
        self._state.continue_after = state.continue_after
        self._state.check_every = state.check_every
        while True:
            stuck = bool(self._state.waiting) and bool(self._state.holders)
            try:
                await workflow.wait_condition(
                    partial(self._ready, stuck),
                    timeout=self._state.check_every if stuck else None,
                )
            except asyncio.TimeoutError:  # all slots held for a while, some waiting
                await self._drop_ended()
                continue
            granted = [w for w in dict.fromkeys(self._again) if w in self._state.holders]
            self._again.clear()
            while self._state.waiting and len(self._state.holders) < self._state.limit:
                granted.append(self._state.waiting.pop(0))
                self._state.holders.append(granted[-1])
            told = await asyncio.gather(
                *(workflow.get_external_workflow_handle(w).signal("granted") for w in granted),
                return_exceptions=True,
            )
            for who, answer in zip(granted, told, strict=True):
                if isinstance(answer, BaseException):  # it ended meanwhile: the slot is free
                    self._state.holders.remove(who)
            if self._signals >= self._state.continue_after:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._again:  # not carried: told first, in the loop
                    workflow.continue_as_new(self._state)

    def _ready(self, stuck: bool) -> bool:
        """Whether the loop has work: a slot to give, a holder to tell again, a new run
        due, or (``stuck`` not yet) some now waiting while all slots are held, so that the
        check's timer starts (a slot leaked while nobody waited was never checked, and
        the next to come waited forever)."""
        state = self._state
        return (
            (bool(state.waiting) and len(state.holders) < state.limit)
            or bool(self._again)
            or self._signals >= state.continue_after
            or (not stuck and bool(state.waiting) and bool(state.holders))
        )

    async def _drop_ended(self) -> None:
        """Free the slots of holders whose workflow no longer runs."""
        try:
            ended: list[str] = await workflow.execute_local_activity(
                "lipbridge.ended",
                args=[list(self._state.holders)],
                result_type=list[str],
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except FailureError as err:  # failing here failed the cap: its slots all lost
            workflow.logger.warning("holders not checked: %s", err)
            return
        for who in ended:
            workflow.logger.warning("%s ended holding a slot: given back", who)
            self._drop(who)
