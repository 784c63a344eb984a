# SPDX-License-Identifier: Apache-2.0
"""The package's structure: layers that import only those below them, no import cycles, no
import hidden in a function to dodge one, and no printing outside the command line."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "relu_hw"

# Lowest first. A module may import modules of its own layer or of layers below it.
LAYERS = [
    {"relu_hw", "relu_hw.spec", "relu_hw.table", "relu_hw.files", "relu_hw.tools",
     "relu_hw.regmap"},
    {"relu_hw.golden", "relu_hw.frames", "relu_hw.gateware", "relu_hw.onnx"},
    {"relu_hw.generate", "relu_hw.regdocs"},
    {"relu_hw.sim", "relu_hw.formal", "relu_hw.formal_control", "relu_hw.fusesoc"},
    {"relu_hw.flows"},
    {"relu_hw.build", "relu_hw.compare"},
    {"relu_hw.cli", "relu_hw.__main__"},
]
# The foundations and the model and gateware import nothing above them, and nothing of the
# package's but what is listed here.
ALLOWED = {
    "relu_hw.spec": set(),
    "relu_hw.table": {"relu_hw.spec"},
    "relu_hw.files": set(),
    "relu_hw.tools": set(),
    "relu_hw.regmap": {"relu_hw.spec"},
    "relu_hw.golden": {"relu_hw.spec"},
    "relu_hw.frames": {"relu_hw.spec", "relu_hw.golden", "relu_hw.regmap"},
    "relu_hw.gateware": {"relu_hw.spec", "relu_hw.table", "relu_hw.regmap", "relu_hw.gateware"},
    "relu_hw.onnx": {"relu_hw.spec", "relu_hw.tools"},
}


def _modules():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path, path.name == "__init__.py")
    return found


MODULES = _modules()


def _imports(name):
    """``[(imported module, inside a function)]`` of module ``name``, relative imports
    resolved, every import statement counted wherever it stands."""
    path, is_package = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if is_package else name.rpartition(".")[0]
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef,
                                                       ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((alias.name, nested) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module
                # "from . import x" may name a submodule, which is then what it imports.
                for alias in child.names:
                    submodule = f"{module}.{alias.name}"
                    out.append((submodule if submodule in MODULES else module, nested))
            visit(child, nested)
    visit(tree, False)
    return [(m, nested) for m, nested in out if m == "relu_hw" or m.startswith("relu_hw.")]


def _within(name, root):
    # The package itself ("relu_hw", its __init__) is a root of its own, not every module.
    return name == root or (root != "relu_hw" and name.startswith(root + "."))


def _layer(name):
    for level, roots in enumerate(LAYERS):
        if any(_within(name, root) for root in roots):
            return level
    raise AssertionError(f"{name} belongs to no layer: add it to LAYERS")


def _root(name, table):
    return next((root for root in table if _within(name, root)), None)


GRAPH = {name: sorted({m for m, _ in _imports(name)} - {name}) for name in MODULES}


def test_every_module_has_a_layer():
    for name in MODULES:
        _layer(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_go_down(name):
    for imported in GRAPH[name]:
        assert _layer(imported) <= _layer(name), f"{name} imports {imported}, a layer above"
    root = _root(name, ALLOWED)
    if root is not None:
        extra = [m for m in GRAPH[name] if _root(m, ALLOWED[root]) is None]
        assert not extra, f"{name} may import only {sorted(ALLOWED[root])}, not {extra}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_inside_a_function(name):
    hidden = [m for m, nested in _imports(name) if nested]
    assert not hidden, f"{name} imports {hidden} inside a function"


def test_no_import_cycle():
    state = {}

    def visit(name, path):
        state[name] = "visiting"
        for m in GRAPH[name]:
            if m not in MODULES:
                continue
            if state.get(m) == "visiting":
                cycle = path[path.index(m):] + [m]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if m not in state:
                visit(m, path + [m])
        state[name] = "done"

    for name in MODULES:
        if name not in state:
            visit(name, [name])


def test_the_checks_see_function_level_imports_and_cycles():
    # The parser finds what these tests look for.
    tree = ast.parse("def f():\n    from .cli import main\n")
    assert any(isinstance(n, ast.ImportFrom) and n.level == 1 for n in ast.walk(tree))
    assert "relu_hw.spec" in GRAPH["relu_hw.golden"]
    assert ("relu_hw.sim.stimulus", False) in _imports("relu_hw.sim.scoreboard")


def test_nothing_prints_outside_the_command_line():
    for name, (path, _) in MODULES.items():
        if _layer(name) == len(LAYERS) - 1:
            continue
        calls = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                 and node.func.id == "print"]
        assert not calls, f"{path.name} prints (lines {calls}); only relu_hw.cli may"
