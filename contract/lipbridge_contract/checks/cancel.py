"""Cancel: as recorded where a model declares it, refused without HTTP where not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipbridge import JobHandle, JobState, ProviderError, UnsupportedCapability
from lipbridge.context import EPOCH
from lipbridge_contract.catalogue import CANCEL_AFTER_COMPLETE, CANCEL_RUNNING
from lipbridge_contract.checks.base import Check, Verdict, file_gate, needs_scenario
from lipbridge_contract.checks.lifecycle import replay_problems

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun


def _cancel(run: SuiteRun) -> Verdict:
    assert run.info is not None
    problems: list[str] = []
    notes: list[str] = []
    for caps in run.info.models:
        if caps.cancel:
            continue
        client, transport, _ = run.scripted()
        handle = JobHandle(
            provider=run.provider, job_id="lbcontract-job", created_at=EPOCH, model=caps.name
        )
        try:
            client.cancel(handle)
            problems.append(f"{caps.name}: declares no cancel, yet cancel returned a status")
        except UnsupportedCapability:
            pass
        except Exception as exc:
            problems.append(
                f"{caps.name}: cancel raised {type(exc).__name__}, not UnsupportedCapability"
            )
        if transport.sent:
            problems.append(f"{caps.name}: cancel without the capability sent HTTP requests")
    if any(m.cancel for m in run.info.models):
        for standard in (CANCEL_RUNNING, CANCEL_AFTER_COMPLETE):
            gate = needs_scenario(run, standard.name, "a model declaring cancel")
            if file_gate(gate, problems, notes):
                continue
            obs = run.observations[standard.name]
            if replay_problems(obs):
                problems += replay_problems(obs)
                continue
            states = obs.states
            ended = states[-1] if states else None
            # Accepted-then-confirmed cancels (CANCELLING) end wherever the provider takes
            # them, cancelled or finished anyway.
            asked = JobState.CANCELLING in states and ended is not None and ended.terminal
            if standard is CANCEL_RUNNING and not (
                ended in (JobState.CANCELLED, JobState.CANCELLING) or asked
            ):
                last = ended.value if ended else "without a status"
                problems.append(f"cancel_running: the job ends {last}, not cancelled")
            if standard is CANCEL_AFTER_COMPLETE:
                if {JobState.CANCELLED, JobState.CANCELLING} & set(states):
                    problems.append("cancel_after_complete: a finished job became cancelled")
                refusal = obs.error
                if refusal is not None and (
                    not isinstance(refusal, ProviderError) or refusal.retryable
                ):
                    problems.append(
                        f"cancel_after_complete: cancel raised {type(refusal).__name__}; a "
                        "finished job's cancel is a final, non-retryable refusal or its "
                        "terminal status"
                    )
    declared = [m.name for m in run.info.models if m.cancel]
    return Verdict.of(problems, "; ".join(notes) or f"cancel declared by {declared or 'no model'}")


CANCEL = Check("cancel", "Cancel semantics", _cancel)
