"""The target contract (target_contract.py) held by the local target on the real daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import yaml
from conftest import DataPlane
from target_contract import SERVICE, TargetContract

from watchstander.config.models import LocalTargetConfig
from watchstander.providers.targets.base import Target
from watchstander.providers.targets.local import LocalTarget


class TestLocalTargetContract(TargetContract):
    real_traffic = True

    @pytest.fixture
    async def target(self, make_dataplane: Callable[..., DataPlane]) -> AsyncIterator[Target]:
        plane = make_dataplane(start=False)
        config = yaml.safe_load(plane.config_path.read_text(encoding="utf-8"))
        config["service"]["name"] = SERVICE
        plane.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        plane.start()
        subject = LocalTarget(LocalTargetConfig.model_validate(config["target"]), service=SERVICE)
        yield subject
        await subject.aclose()
