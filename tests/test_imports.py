"""The modules of ``src/gamyeon`` import each other without a cycle, and a package's ``__init__``
names its public API lazily, so importing one module does not load the whole stack.

The graph is read from the source with ``ast``. An edge A -> B means that running A's imports
needs B to have finished running:

- ``import a.b.c``, ``from a.b import c`` (a module) and ``from a.b.c import x`` need ``a.b.c``
  and the packages around it, ``a`` and ``a.b``: Python runs each package's ``__init__`` first;
- except the packages around A itself: Python starts those before A, and A needs only that they
  exist, unless A takes a name (not a submodule) from one, ``from gamyeon.batch import run_batch``
  inside ``gamyeon.batch``, which needs that ``__init__`` to have finished.

Imports under ``if TYPE_CHECKING:`` do not count: they never run. Imports inside functions do
count: they are there to defer a cost (the CLI starts without loading the verifier), and a cycle
through one is a cycle in the design all the same, one that only fails later. The lazy exports of
``gamyeon.infra.lazy`` import by name at run time; ``test_lazy_exports_are_the_type_checked_ones``
holds them to the ``TYPE_CHECKING`` imports beside them.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gamyeon

SRC = Path(gamyeon.__file__).resolve().parent
PACKAGE = SRC.name


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    # packages without an __init__ (namespace packages) are still imported on the way
    for name in list(found):
        parts = name.split(".")
        for i in range(1, len(parts)):
            found.setdefault(".".join(parts[:i]), SRC.parent.joinpath(*parts[:i]))
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of a block and everything nested in it (functions, classes,
    ``try``, ``if``, ``with``), less the bodies of ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _type_checking(node.test):
            yield from _import_nodes(node.orelse)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _import_nodes([child])
                elif isinstance(child, ast.excepthandler | ast.match_case):
                    yield from _import_nodes(child.body)


def _enclosing(name: str) -> list[str]:
    """The packages around a module, outermost first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _needs(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` needs finished (see the module docstring)."""
    if path.is_dir():
        return set()
    own = set(_enclosing(name))
    needed: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")).body):
        assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}:{node.lineno}: relative import"
        if isinstance(node, ast.Import):
            targets = [(alias.name, False) for alias in node.names]
        else:
            base = node.module or ""
            targets = [
                (f"{base}.{alias.name}", False) if f"{base}.{alias.name}" in modules else (base, True)
                for alias in node.names
            ]
        for target, takes_a_name in targets:
            if target.split(".")[0] != PACKAGE:
                continue
            assert target in modules, f"{path}:{node.lineno}: imports {target}, which does not exist"
            needed.update(p for p in _enclosing(target) if p not in own)
            if target not in own or takes_a_name:
                needed.add(target)
    needed.discard(name)
    return needed


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _needs(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_find_cycle_finds_one_and_prints_it() -> None:
    """The search itself: a planted cycle is found, its path printed in order."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_package_edges_and_function_local_imports() -> None:
    """Edges the rules above promise, on modules known to have them."""
    graph = import_graph()
    assert "gamyeon.pipeline.video" in graph["gamyeon.pipeline.job"]  # a plain module-level import
    assert "gamyeon.verify" in graph["gamyeon"]  # the package binds its subpackage early (see its __init__)
    assert "gamyeon.batch.runner" in graph["gamyeon.batch.cli"]  # imported inside a function
    assert "gamyeon.batch" not in graph["gamyeon.batch.tasks"]  # its own package: started before it
    assert "gamyeon.verify.record" in graph["gamyeon.verify.cli"]  # ``from gamyeon.verify import record``
    assert "gamyeon.ledger" in graph["gamyeon.pipeline.job"]  # another package: its __init__ runs first
    assert "gamyeon.options" not in graph["gamyeon.kinds.spec"]  # only under TYPE_CHECKING


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _lazy_packages() -> dict[str, dict[str, str]]:
    """Packages whose ``__init__`` uses ``gamyeon.infra.lazy``: their type-checked imports
    (public name -> module)."""
    found: dict[str, dict[str, str]] = {}
    for name, path in _modules().items():
        if path.name != "__init__.py" and not (path / "__init__.py").is_file():
            continue
        init = path if path.name == "__init__.py" else path / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        if "gamyeon.infra.lazy" not in {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}:
            continue
        typed: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.If) and _type_checking(node.test):
                for imp in node.body:
                    assert isinstance(imp, ast.ImportFrom) and imp.module
                    typed.update({alias.asname or alias.name: imp.module for alias in imp.names})
        found[name] = typed
    return found


def test_lazy_exports_are_the_type_checked_ones() -> None:
    """Every public name of a lazy package is what its ``TYPE_CHECKING`` import names (what mypy
    checks callers against), and ``__all__`` lists exactly those and the eagerly bound ones."""
    lazy = _lazy_packages()
    assert {"gamyeon", "gamyeon.batch", "gamyeon.verify"} <= set(lazy)
    for package, typed in lazy.items():
        module = importlib.import_module(package)
        eager = {n for n in module.__all__ if n in vars(module) and n not in typed}
        assert set(module.__all__) == set(typed) | eager, package
        for name, source in typed.items():
            assert getattr(module, name) is getattr(importlib.import_module(source), name), f"{package}.{name}"
            assert name in dir(module)


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (an empty ``sys.modules``) and return what it prints."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.strip()


def test_a_leaf_module_does_not_load_the_stack() -> None:
    """``import gamyeon.types`` loads neither the detectors' runtimes nor the ledger's database
    layer: the package ``__init__`` no longer imports its API eagerly."""
    heavy = ["onnxruntime", "cv2", "norfair", "sqlalchemy", "gamyeon.api", "gamyeon.pipeline.job"]
    out = _fresh(f"import sys, gamyeon.types; print([m for m in {heavy!r} if m in sys.modules])")
    assert out == "[]"


def test_the_verify_function_is_not_hidden_by_the_verify_package() -> None:
    """``gamyeon.verify`` is the function even after a submodule of the ``verify`` package was
    imported first (the import system binds subpackages on their parent)."""
    out = _fresh("import gamyeon.verify.cli, gamyeon; from gamyeon import verify; print(verify.__module__)")
    assert out == "gamyeon.verify.api"
