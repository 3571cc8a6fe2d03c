"""The optional emulator hook: a plugin brings the dialect that emulates its API."""

from __future__ import annotations

import attrs
import pytest

from lipbridge import Client, JobRequest, Registry
from lipbridge.models import ProviderInfo
from lipbridge.plugin import hookimpl
from lipbridge_emulator import CooperativeClock, Emulator, samples
from lipbridge_emulator.dialect import version_problem
from lipbridge_emulator.dialects import installed_dialects
from lipbridge_emulator.dialects.jogg import JoggDialect
from lipbridge_jogg import INFO, JoggLipSync


class _Plugin(JoggLipSync):
    """A third-party provider that brings its own dialect (here: JoggAI's, renamed)."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return attrs.evolve(INFO, name="jogglike")

    @hookimpl
    def lipbridge_emulator_dialect(self, provider: str) -> JoggDialect:
        dialect = JoggDialect()
        dialect.provider = provider  # type: ignore[misc]
        return dialect


def test_hook_lipbridge_emulator_dialect_makes_a_third_party_provider_emulated() -> None:
    media = samples.sample_video(1.0), samples.sample_speech(1.0)
    registry = Registry([])
    registry.register("jogglike", _Plugin())
    dialects = installed_dialects(registry)
    assert {d.provider for d in dialects} == {
        "foxapi", "aihubmax", "aimlapi", "jogg", "syncso", "replicate", "fal", "jogglike"
    }
    clock = CooperativeClock()
    with Emulator(clock=clock, dialects=dialects) as emu:
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        client = Client(
            registry=registry,
            clock=clock,
            api_keys={"jogglike": emu.key},
            base_urls={"jogglike": emu.base_url("jogglike")},
        )
        request = JobRequest(video=video, audio=audio, sync_mode="bounce")
        result = client.wait(client.submit("jogglike", request))
        assert "/files/" in result.video_url




@pytest.mark.parametrize(("version", "usable"), [("1.0", True), ("1.9", False), ("2.0", False),
                                                  ("0.9", False), ("one", False)])
def test_a_dialect_declares_the_dialect_api_it_was_written_for(version: str, usable: bool) -> None:
    class Declared(JoggDialect):
        api_version = version

    problem = version_problem(Declared())
    assert (problem is None) is usable
    if not usable:
        assert version in problem  # type: ignore[operator]
