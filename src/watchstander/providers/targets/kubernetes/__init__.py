"""The Kubernetes target (`target.type: kubernetes`, extra `watchstander[kubernetes]`).

target.py drives the objects, objects.py names and builds them, api.py is the official
client's REST layer. docs/backends/kubernetes.md is the user's page.
"""

from watchstander.providers.targets.kubernetes.objects import VERSION_HEADER, replica_split
from watchstander.providers.targets.kubernetes.target import KubernetesTarget

__all__ = ["KubernetesTarget", "VERSION_HEADER", "replica_split"]
