"""Several Ray nodes on one machine (``ray.cluster_utils.Cluster``): try a placement - runners on
"robot hosts", learners on their own nodes - before the robots and machines exist, and run the
multi-node tests and benchmarks.

Each node is a separate raylet with its own CPUs and custom resources; the driver connects to the
head. Node names go into each node's resources as ``node_name:<name>`` (amount 1), so a test can ask
where an actor landed by the name it gave the node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ray
from ray.cluster_utils import Cluster

NODE_TAG = "node_name:"  # resource name prefix that names a node


@contextmanager
def local_cluster(nodes: Mapping[str, Mapping[str, Any]], **init_kwargs: Any) -> Iterator[Cluster]:
    """Starts one node per entry of ``nodes`` (the first is the head), connects this process with
    ``ray.init(address=...)``, and tears everything down afterwards.

    Args:
        nodes: node name -> ``{"num_cpus": n, "resources": {...}}`` (``Cluster.add_node`` args).
        init_kwargs: more ``ray.init`` arguments (e.g. ``runtime_env``).
    """
    if ray.is_initialized():
        raise RuntimeError("local_cluster needs a process without Ray started; it starts its own nodes.")
    cluster = Cluster()
    try:
        for name, spec in nodes.items():
            spec = dict(spec)
            resources = {**spec.pop("resources", {}), f"{NODE_TAG}{name}": 1}
            cluster.add_node(resources=resources, **spec)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, **init_kwargs)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def node_names() -> dict[str, str]:
    """Ray node id -> the name given in ``local_cluster`` (alive nodes)."""
    names = {}
    for node in ray.nodes():
        if node.get("Alive"):
            for resource in node.get("Resources", {}):
                if resource.startswith(NODE_TAG):
                    names[node["NodeID"]] = resource[len(NODE_TAG) :]
    return names


def this_node_name() -> str:
    """The ``local_cluster`` name of the node this process runs on."""
    return node_names()[ray.get_runtime_context().get_node_id()]
