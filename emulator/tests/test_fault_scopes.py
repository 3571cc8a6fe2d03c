"""Fault rules scoped to one provider (``submit@foxapi:...``) and a 5xx of a chosen status
(``5xx=1@503``): one provider refuses while the others answer, as the batch fallback
tests need."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from emulated import Emulated, emulated

from lipbridge import JobRequest, SyncMode
from lipbridge.errors import ProviderUnavailable, RateLimited, SubmitOutcomeUnknown
from lipbridge_emulator import Emulator, Timing, parse
from lipbridge_emulator.faults import Faults, FaultSpecError
from lipbridge_emulator.holds import HoldPoint
from lipbridge_emulator.plan import FaultPlan

INSTANT = Timing(job_seconds=0, results_lag=0)
MODES = {"foxapi": SyncMode.LOOP, "aihubmax": SyncMode.LOOP, "jogg": SyncMode.BOUNCE}


def test_a_scoped_rule_applies_to_its_provider_before_any_other_rule() -> None:
    spec = parse("*:slow=0.1;submit:slow=0.2;*@jogg:slow=0.3;submit@jogg:slow=0.4")
    assert spec.for_target("submit", "jogg").slow == 0.4  # target and provider
    assert spec.for_target("poll", "jogg").slow == 0.3  # any target at the provider
    assert spec.for_target("submit", "foxapi").slow == 0.2  # the target, any provider
    assert spec.for_target("poll", "foxapi").slow == 0.1
    assert spec.for_target("submit").slow == 0.2  # no provider: unscoped rules only
    assert spec.providers() == {"jogg"}
    assert parse("submit@foxapi:5xx=1").for_target("submit", "jogg") == Faults()


def test_a_5xx_can_be_given_its_status() -> None:
    spec = parse("submit@aihubmax:5xx=1@503;poll:5xx=1")
    assert spec.for_target("submit", "aihubmax").server_error_status == 503
    assert spec.for_target("poll", "aihubmax").server_error_status is None  # drawn
    plan = FaultPlan(spec, seed=3)
    errors = [plan.server_error("submit", f"body{n}", 1, "aihubmax") for n in range(50)]
    assert {(e.status, e.after_work) for e in errors if e is not None} == {(503, False)}
    assert plan.server_error("submit", "body", 1, "jogg") is None


def test_unscoped_specs_draw_as_before() -> None:
    """Scoping adds nothing to the draws' keys: an old spec meets the same faults."""
    old, scoped = FaultPlan(parse("submit:5xx=0.5"), 9), FaultPlan(parse("submit@jogg:5xx=0.5"), 9)
    for n in range(40):
        assert old.server_error("submit", f"b{n}", 1, "jogg") == scoped.server_error(
            "submit", f"b{n}", 1, "jogg"
        )
        assert old.server_error("submit", f"b{n}", 1) == old.server_error(
            "submit", f"b{n}", 1, "foxapi"
        )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("download@foxapi:reset=0.1", "download requests have no provider"),
        ("submit@Fox API:5xx=1", "is not a provider name"),
        ("submit@:5xx=1", "is not a provider name"),
        ("render@foxapi:5xx=1", "must start with a target"),
        ("submit:5xx=1@501", "is not one of 500, 502, 503, 504"),
        ("submit:reset=0.5@2", "a reset takes no @"),
        ("*@jogg:hold=1", "takes no hold"),
    ],
)
def test_bad_scopes_and_statuses_name_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(FaultSpecError, match=says):
        parse(text)


def test_the_emulator_refuses_rules_for_providers_it_does_not_speak() -> None:
    with pytest.raises(FaultSpecError, match="faults name fox, which the emulator does not"):
        Emulator(faults="submit@fox:5xx=1")


# -- on the wire ------------------------------------------------------------------------------


@pytest.fixture
def env() -> Iterator[Emulated]:
    faults = (
        "submit@foxapi:5xx=1@503;submit@aihubmax:429=1@600;submit@aimlapi:reset-after=1;"
        "poll@jogg:hold=1"
    )
    with emulated(timing=INSTANT, faults=faults) as env:
        yield env


def request(env: Emulated, provider: str) -> JobRequest:
    return JobRequest(
        video=env.videos[2.0].url, audio=env.speeches[3.0].url, sync_mode=MODES.get(provider)
    )


def test_each_provider_meets_only_its_own_faults(env: Emulated) -> None:
    names = ("foxapi", "aihubmax", "aimlapi")
    fox, aihubmax, aimlapi = (env.client(p, ledger=False) for p in names)
    with pytest.raises(ProviderUnavailable):
        fox.submit("foxapi", request(env, "foxapi"))
    with pytest.raises(RateLimited) as limited:
        aihubmax.submit("aihubmax", request(env, "aihubmax"))
    assert limited.value.retry_after == 600
    with pytest.raises(SubmitOutcomeUnknown):
        aimlapi.submit("aimlapi", request(env, "aimlapi"))
    by_provider = {a.provider: (a.status, a.fault) for a in env.emu.ledger.arrivals if a.provider}
    assert by_provider == {"foxapi": (503, "5xx"), "aihubmax": (429, "429"),
                           "aimlapi": (None, "reset-after")}
    [accepted] = env.emu.ledger.accepted  # the reset came after the job was made
    assert (accepted.provider, accepted.answered) == ("aimlapi", False)
    jogg = env.client("jogg", ledger=False)  # JoggAI's submits pass
    assert jogg.submit("jogg", request(env, "jogg")).job_id


def test_a_scoped_rate_limit_window_is_the_providers_own() -> None:
    with emulated(timing=INSTANT, faults="submit@aihubmax:429=1@600") as env:
        limited = env.client("aihubmax", ledger=False)
        with pytest.raises(RateLimited):
            limited.submit("aihubmax", request(env, "aihubmax"))
        # FoxAPI shares the gateway's dialect and the submit endpoint, not the window.
        fox = env.client("foxapi", ledger=False)
        assert fox.submit("foxapi", request(env, "foxapi")).job_id


def test_a_scoped_hold_holds_only_its_providers_requests() -> None:
    with emulated(timing=INSTANT, faults="poll@jogg:hold=1") as env:
        fox = env.client("foxapi", ledger=False)
        assert fox.wait(fox.submit("foxapi", request(env, "foxapi"))).video_url
        assert env.emu.holds.reached() == []
        jogg = env.client("jogg", ledger=False)
        handle = jogg.submit("jogg", request(env, "jogg"))
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(jogg.wait, handle)
            [held] = env.emu.holds.wait(1)
            assert (held.point, held.provider, held.job_id) == (
                HoldPoint.POLL, "jogg", handle.job_id
            )
            held.release()
            assert waiting.result(timeout=60).video_url
