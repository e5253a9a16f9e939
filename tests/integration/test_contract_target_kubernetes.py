"""The target contract (target_contract.py) held by the Kubernetes target.

No cluster runs on these machines: the target talks, through the official client, to the
recorded-contract fake API server (k8s_fake_api.py), a TEST DOUBLE. Its pods serve no
traffic, so `real_traffic` is off and the traffic test checks only the endpoint's shape.
Both canary modes run the whole contract: Service selector + replica ratio, and Gateway
API HTTPRoute weights.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from k8s_fake_api import FakeKubernetesApi, recorded
from target_contract import SERVICE, TargetContract

from watchstander.config.kubernetes import KubernetesTargetConfig
from watchstander.providers.targets.base import Target
from watchstander.providers.targets.kubernetes import KubernetesTarget

NS = "shop"


class TestKubernetesTargetContract(TargetContract):
    real_traffic = False
    ready_timeout = 10.0

    @pytest.fixture(params=["replicas", "gateway"])
    async def target(self, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
        async with FakeKubernetesApi() as fake:
            fields: dict[str, object] = {"canary_mode": request.param}
            if request.param == "gateway":
                route = recorded("httproute.json")
                route["metadata"] = {"name": SERVICE, "namespace": NS}
                route["spec"]["rules"] = []
                fake.put(route)
                fields["httproute"] = SERVICE
            config = KubernetesTargetConfig.model_validate(
                {
                    "app": SERVICE,
                    "image": "registry.example.com/shop:{version}",
                    "namespace": NS,
                    "kubeconfig": str(fake.write_kubeconfig(tmp_path / "kubeconfig")),
                    **fields,
                }
            )
            subject = KubernetesTarget(config, service=SERVICE)
            yield subject
            await subject.aclose()
