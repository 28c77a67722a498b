"""The house rules (docs/architecture.md), checked on the code with `ast`.

- no import circles between the project's modules (function-local and type-only imports count);
- pages/ never import routes/; web/ imports neither; workflows/ imports nothing above it
  (web, routes, pages, workers, cli, api); workflows.kernel imports no other workflows package;
- no function over 60 lines outside migrations, tests and bench.

Each rule is a function over a {module: source} map, so the self-tests below feed it a small
made-up tree and show it catches what it is meant to catch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"migrations", "tests", "bench", "node_modules", "var", "docs"}
MAX_FUNCTION_LINES = 60
# Who may import whom, by top-level package: a layer imports only what is listed.
LAYERS = {
    "workflows": {"workflows", "models", "settings"},
    "workers": {"workers", "workflows", "models", "settings"},
    "models": {"models", "settings"},
    "schemas": {"schemas", "workflows", "models"},
    "web": {"web", "workflows", "models", "schemas", "settings", "workers"},
    "pages": {"pages", "web", "workflows", "models", "schemas", "settings", "workers"},
    "routes": {"routes", "web", "workflows", "models", "schemas", "settings", "workers"},
}


def project_sources(root: Path = ROOT) -> dict[str, str]:
    """Every application module's dotted name and source."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(p in SKIP or p.startswith(".") for p in rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts) + ("/__init__" if path.name == "__init__.py" else "")] = path.read_text(
            encoding="utf-8"
        )
    return out


def _name(key: str) -> str:
    return key.removesuffix("/__init__")


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module → the project modules it imports anywhere in its body (a package's __init__
    handing on its own submodules is not an edge)."""
    mods = {_name(k) for k in sources}
    graph: dict[str, set[str]] = {}
    for key, src in sources.items():
        name, is_pkg = _name(key), key.endswith("/__init__")
        pkg = name if is_pkg else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(src)):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name and not (is_pkg and t.startswith(name + ".")):
                    deps.add(t)
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up or sideways across the layers, and kernel reaching out."""
    bad = []
    for mod, deps in graph.items():
        top = mod.split(".")[0]
        for dep in deps:
            dep_top = dep.split(".")[0]
            if top in LAYERS and dep_top not in LAYERS[top]:
                bad.append(f"{mod} -> {dep}")
            elif (
                mod.startswith("workflows.kernel")
                and dep.startswith("workflows.")
                and not (dep.startswith("workflows.kernel"))
            ):
                bad.append(f"{mod} -> {dep} (the kernel imports no other workflows package)")
    return sorted(bad)


def long_functions(sources: dict[str, str], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions longer than `limit` physical lines, longest first."""
    found = []
    for key, src in sources.items():
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > limit:
                    found.append((length, f"{_name(key)}:{node.lineno} {node.name} ({length})"))
    return [text for _, text in sorted(found, reverse=True)]


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return project_sources()


def test_no_import_circles(sources: dict[str, str]) -> None:
    assert circles(import_graph(sources)) == []


def test_layers_import_only_downward(sources: dict[str, str]) -> None:
    assert layer_violations(import_graph(sources)) == []


def test_no_function_over_sixty_lines(sources: dict[str, str]) -> None:
    assert long_functions(sources) == []


def test_workflows_is_packages(sources: dict[str, str]) -> None:
    """workflows/ holds packages only, each with an __init__ saying what lives there."""
    flat = [
        k
        for k in sources
        if k.startswith("workflows.") and k.count(".") == 1 and not k.endswith("/__init__")
    ]
    assert flat == []
    inits = [k for k in sources if k.startswith("workflows.") and k.endswith("/__init__")]
    assert len(inits) >= 10
    for key in inits:
        assert ast.get_docstring(ast.parse(sources[key])), f"{key} says nothing about its package"


# Self-tests: each rule catches what it is meant to catch.

FAKE = {
    "workflows/__init__": "",
    "workflows.kernel/__init__": '"""k"""',
    "workflows.kernel.audit": "def f():\n    from workflows.event import flow\n",
    "workflows.event/__init__": '"""e"""',
    "workflows.event.flow": "from workflows.kernel import audit\nimport routes.deps\n",
    "routes/__init__": "",
    "routes.deps": "from workflows.event import flow\n",
    "pages/__init__": "",
    "pages.home": "from routes.deps import x\n",
    "web/__init__": "",
    "web.deps": "from pages import home\n",
}


def test_self_test_circle_through_a_function_local_import() -> None:
    # routes.deps -> flow -> routes.deps, and audit -> flow -> audit (local import): one component
    assert circles(import_graph(FAKE)) == [
        ["routes.deps", "workflows.event.flow", "workflows.kernel.audit"]
    ]


def test_self_test_layers() -> None:
    bad = layer_violations(import_graph(FAKE))
    assert "pages.home -> routes.deps" in bad
    assert "web.deps -> pages.home" in bad
    assert "workflows.event.flow -> routes.deps" in bad
    assert any(b.startswith("workflows.kernel.audit -> workflows.event.flow") for b in bad)


def test_self_test_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    found = long_functions({"m": f"def short():\n    pass\n\ndef long():\n{body}\n"})
    assert found == ["m:4 long (61)"]
