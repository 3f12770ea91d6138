"""The dependency graph: Requires-Dist with markers and extras evaluated."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.markers import (
    InvalidMarker,
    UndefinedComparison,
    UndefinedEnvironmentName,
    default_environment,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion

from qprov.sbom._model import Package

__all__ = ["Graph", "current_markers", "resolve_graph"]


def current_markers() -> dict[str, str]:
    """The marker environment of this interpreter."""
    return {str(k): str(v) for k, v in default_environment().items()}


@dataclass(slots=True)
class Graph:
    """Edges between canonical names, the extras that ended up active, and gaps."""

    edges: dict[str, set[str]] = field(default_factory=dict)
    root_edges: set[str] = field(default_factory=set)
    extras: dict[str, set[str]] = field(default_factory=dict)
    missing: dict[str, set[str]] = field(default_factory=dict)
    unsatisfied: dict[str, set[str]] = field(default_factory=dict)


def _applies(requirement: Requirement, environment: dict[str, str], extra: str) -> bool:
    if requirement.marker is None:
        return True
    try:
        return bool(requirement.marker.evaluate({**environment, "extra": extra}))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, InvalidVersion):
        return False


def resolve_graph(
    packages: Iterable[Package],
    environment: dict[str, str],
    root_requirements: list[Requirement] | None = None,
) -> Graph:
    """Resolve edges among ``packages``.

    An edge ``A -> B`` exists when A requires B under the marker environment and
    the extras of A that are in use. The extras in use start from what a lock or
    report recorded (or nothing) and grow by propagation: ``A`` requiring
    ``B[x]`` turns on B's extra ``x``, which may turn on more edges. A requirement
    guarded by an extra nobody requests gives no edge.
    """
    by_name = {p.metadata.canonical_name: p for p in packages}
    graph = Graph()
    for name, package in by_name.items():
        graph.edges[name] = set()
        graph.extras[name] = set(package.requested_extras or ())

    def _link(source: str | None, requirement: Requirement) -> bool:
        target = canonicalize_name(requirement.name)
        if target not in by_name:
            if source is not None:
                graph.missing.setdefault(source, set()).add(str(requirement))
            return False
        if source is None:
            graph.root_edges.add(target)
        else:
            graph.edges[source].add(target)
            version = by_name[target].metadata.version
            try:
                ok = not requirement.specifier or requirement.specifier.contains(
                    version, prereleases=True
                )
            except InvalidVersion:
                ok = True
            if not ok:
                graph.unsatisfied.setdefault(source, set()).add(str(requirement))
        wanted = {canonicalize_name(e) for e in requirement.extras}
        if wanted - graph.extras[target]:
            graph.extras[target] |= wanted
            return True
        return False

    # Each (marker, extra) is evaluated once and each (package, requirement)
    # linked once: the loop below repeats until no extra is added, and a repeated
    # evaluation or link gives the same answer and changes nothing. Requirements
    # read from metadata share the marker objects of equal marker texts, so a
    # marker repeated across distributions is evaluated once per extra.
    applies: dict[tuple[int, str], bool] = {}
    linked: set[tuple[str, int]] = set()
    for requirement in root_requirements or []:
        if _applies(requirement, environment, ""):
            _link(None, requirement)
    changed = True
    while changed:
        changed = False
        for name, package in by_name.items():
            for extra in ("", *sorted(graph.extras[name])):
                for requirement in package.metadata.requires_dist:
                    key = (id(requirement.marker), extra)
                    ok = applies.get(key)
                    if ok is None:
                        ok = applies[key] = _applies(requirement, environment, extra)
                    if not ok or (name, id(requirement)) in linked:
                        continue
                    linked.add((name, id(requirement)))
                    if _link(name, requirement):
                        changed = True
    return graph
