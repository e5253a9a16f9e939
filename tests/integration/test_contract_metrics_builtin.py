"""The metric source contract (metrics_contract.py) held by the builtin source."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import DataPlane, free_port
from metrics_contract import MetricSourceContract

from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.metrics.builtin import BuiltinMetricSource


class TestBuiltinMetricsContract(MetricSourceContract):
    @pytest.fixture
    async def source(self, plane: DataPlane) -> AsyncIterator[MetricSource]:
        subject = BuiltinMetricSource(plane.admin)
        yield subject
        await subject.aclose()

    @pytest.fixture
    async def unreachable(self) -> AsyncIterator[MetricSource]:
        subject = BuiltinMetricSource(f"127.0.0.1:{free_port()}")
        yield subject
        await subject.aclose()
