"""The package is a house of floors: a module imports only its own floor or the floors below,
and no modules import each other, directly or round a cycle.

Every module of ``deepgrad`` is parsed with ``ast``; every import counts, at module level or
inside a function, absolute or relative. Importing ``deepgrad.a.b.c`` also runs the
``__init__`` of ``deepgrad.a`` and ``deepgrad.a.b``, so those packages count as imported too
(except where the importer lives inside them: Python has started their ``__init__`` already),
and a package counts as importing every module in it, so a module that imports its own
package closes a cycle.
The root package ``deepgrad`` is the public facade: it imports backend, autograd and ops
eagerly and everything else on first attribute access.
"""
from __future__ import annotations

import ast
import pathlib
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "deepgrad"

# Module (or package, covering everything inside it) -> floor. A module imports only floors <= its own.
FLOORS = {
    "deepgrad.backend": 1, "deepgrad.tree": 1, "deepgrad.registry": 1, "deepgrad.naming": 1, "deepgrad.runtime": 1,
    "deepgrad.allocation": 1, "deepgrad.process_group": 1, "deepgrad.endpoints": 3, "deepgrad.tensor_spec": 1,
    "deepgrad.config": 1, "deepgrad.dtype_policies": 1, "deepgrad.mixed_precision": 6, "deepgrad.loops": 1,
    "deepgrad.autograd": 2, "deepgrad.seed_generator": 2,
    "deepgrad.ops": 3, "deepgrad": 3,
    "deepgrad.initializers": 4, "deepgrad.activations": 4, "deepgrad.regularizers": 4,
    "deepgrad.constraints": 4, "deepgrad.symbolic": 4, "deepgrad.serialization_lib": 3, "deepgrad.quantizers": 4,
    "deepgrad.layers": 5,
    "deepgrad.losses": 6, "deepgrad.metrics": 6, "deepgrad.optimizers": 6, "deepgrad.random": 6,
    "deepgrad.callbacks": 6, "deepgrad.files": 6, "deepgrad.export": 6,
    "deepgrad.models": 7,
    "deepgrad.saving": 8, "deepgrad.datasets": 8, "deepgrad.preprocessing": 8, "deepgrad.utils": 8,
    "deepgrad.distributed": 8, "deepgrad.applications": 8, "deepgrad.explain": 8, "deepgrad.compat": 8,
    "deepgrad.visualization": 8, "deepgrad.distribution": 8, "deepgrad.legacy": 8, "deepgrad.distillation": 8,
    "deepgrad.wrappers": 8,
    "deepgrad.cli": 9, "deepgrad.reports": 9, "deepgrad.__main__": 9, "deepgrad.cli_generative": 9,
}


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """Dotted module name -> (file, is a package)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def floor_of(module: str) -> int | None:
    """The floor of the nearest entry of FLOORS; the root entry covers the root package only."""
    name = module
    while name != "deepgrad" and "." in name:
        if name in FLOORS:
            return FLOORS[name]
        name = name.rpartition(".")[0]
    return FLOORS.get(module)


def _existing(name: str) -> str | None:
    """``name`` if it is a module of the package, else its nearest enclosing module (an attribute)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _with_packages(target: str, importer: str) -> set[str]:
    """``target`` and the packages whose ``__init__`` importing it runs (not the importer's own)."""
    out = {target}
    parts = target.split(".")
    for i in range(2, len(parts)):
        package = ".".join(parts[:i])
        if not (importer == package or importer.startswith(package + ".")):
            out.add(package)
    return out


def imports_of(module: str) -> dict[str, int]:
    """Every module of the package that ``module`` imports -> the first line that does it."""
    path, is_package = MODULES[module]
    package = module if is_package else module.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(target, line):
        if target is None or target == module:
            return
        for name in _with_packages(target, module):
            found.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "deepgrad":
                    add(_existing(alias.name), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "deepgrad":
                continue
            for alias in node.names:  # ``from pkg import sub`` imports the submodule ``pkg.sub``
                child = f"{source}.{alias.name}"
                add(child if child in MODULES else _existing(source), node.lineno)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_floor():
    missing = sorted(m for m in MODULES if floor_of(m) is None)
    assert not missing, f"modules with no floor (add them to FLOORS in {__name__}): {missing}"


def test_no_module_imports_a_higher_floor():
    bad = []
    for module, targets in GRAPH.items():
        own = floor_of(module)
        for target, line in targets.items():
            floor = floor_of(target)
            if own is not None and floor is not None and floor > own:
                bad.append(f"{module} (floor {own}) imports {target} (floor {floor}) at line {line}")
    assert not bad, "imports of a higher floor:\n" + "\n".join(sorted(bad))


def _with_package_edges(graph: dict) -> dict:
    """``graph`` plus an edge from every package (but the root facade) to each module in it: its
    ``__init__`` may load them in ways ``ast`` cannot follow (``importlib``), so a module that
    imports its own package closes a cycle."""
    out = {m: dict(targets) for m, targets in graph.items()}
    for module in graph:
        package = module.rpartition(".")[0]
        if package in out and package != "deepgrad":
            out[package].setdefault(module, 0)
    return out


def _cycles() -> list[list[str]]:
    """The strongly connected components of the import graph with more than one module (Tarjan,
    iterative so deep packages cannot overflow the stack)."""
    graph = _with_package_edges(GRAPH)
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def test_no_import_cycles():
    cycles = _cycles()
    graph = _with_package_edges(GRAPH)
    text = []
    for component in cycles:
        members = set(component)
        edges = [f"{a} -> {b} ({f'line {line}' if line else 'the package holds it'})"
                 for a in component for b, line in graph[a].items() if b in members]
        text.append(", ".join(component) + ":\n    " + "\n    ".join(edges))
    assert not cycles, "modules that import each other:\n" + "\n".join(text)


# ----------------------------------------------------------------- the checker itself
@pytest.mark.parametrize("module, target", [
    ("deepgrad.layers.base", "deepgrad.symbolic"),          # from ..symbolic import KerasTensor
    ("deepgrad.layers.base", "deepgrad.autograd"),          # from ..autograd import Tensor
    ("deepgrad.models.model", "deepgrad.layers.base"),      # from ..layers.base import Layer
    ("deepgrad.models.model", "deepgrad.layers"),           # ... which runs layers/__init__ first
])
def test_the_graph_sees_relative_and_package_imports(module, target):
    assert target in GRAPH[module]


def test_the_checker_finds_a_function_level_import_and_a_cycle(tmp_path, monkeypatch):
    """A two-module package whose lower module imports the higher one inside a function."""
    package = tmp_path / "deepgrad"
    (package / "layers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "layers" / "__init__.py").write_text("from .base import Layer\n")
    (package / "layers" / "base.py").write_text("class Layer:\n    def f(self):\n"
                                                "        from ..models import Model\n")
    (package / "models.py").write_text("from .layers.base import Layer\n")
    this = sys.modules[__name__]
    monkeypatch.setattr(this, "PACKAGE", package)
    monkeypatch.setattr(this, "MODULES", _modules())
    graph = {m: imports_of(m) for m in this.MODULES}
    monkeypatch.setattr(this, "GRAPH", graph)
    assert graph["deepgrad.layers.base"] == {"deepgrad.models": 3}
    assert ["deepgrad.layers", "deepgrad.layers.base", "deepgrad.models"] in _cycles()
    with pytest.raises(AssertionError, match=r"deepgrad.layers.base \(floor 5\) imports deepgrad.models \(floor 7\)"):
        test_no_module_imports_a_higher_floor()
