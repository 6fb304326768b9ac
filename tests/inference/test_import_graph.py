"""The annotation modules import one way: no cycle (counting imports inside functions), and the signer
components (signfer.signers) never import the pipeline (signfer.inference) that uses them."""

from __future__ import annotations

import ast
from pathlib import Path

import signfer

ROOT = Path(signfer.__file__).parent


def _graph(packages=("inference", "signers", "faces")) -> dict[str, set[str]]:
    graph = {}
    for pkg in packages:
        for path in (ROOT / pkg).glob("*.py"):
            mod = f"signfer.{pkg}.{path.stem}".removesuffix(".__init__")
            deps = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("signfer."):
                    deps.add(node.module)
                elif isinstance(node, ast.Import):
                    deps |= {a.name for a in node.names if a.name.startswith("signfer.")}
            graph[mod] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d not in graph:
                continue
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycle_in_the_annotation_modules():
    graph = _graph(("inference", "signers"))
    assert "signfer.inference.pipeline" in graph and "signfer.signers.tracking" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
    # the cycle finder finds one when there is one
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_signer_components_sit_below_the_pipeline():
    graph = _graph()
    up = {m: sorted(d for d in deps if d.startswith("signfer.inference")) for m, deps in graph.items() if m.startswith("signfer.signers")}
    assert all(not v for v in up.values()), up
    down = {m: sorted(d for d in deps if d.startswith(("signfer.inference", "signfer.signers"))) for m, deps in graph.items() if m.startswith("signfer.faces")}
    assert all(not v for v in down.values()), down
