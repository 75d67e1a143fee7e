"""The package's layers: no import cycle, and metrics that only compare image sets.

Every `import ganforge...` counts, at module level or inside a function (a
lazy import hides a cycle; it does not remove it); only imports under
`if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"


def module_files() -> dict[str, Path]:
    modules = {}
    for path in (SOURCE / "ganforge").rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ganforge modules `path` imports (a `from package import name` of a
    submodule counts as that submodule)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.add(full if full in modules else child.module)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imported(path, modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return trail[trail.index(target) :] + [target]
            if target not in state and (cycle := walk(target)):
                return cycle
        state[node] = "done"
        trail.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the walk saw the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_lazy_imports_count_and_type_checking_ones_do_not(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ganforge.training import train\n"
        "def f():\n    from ganforge.pipelines import load\n"
    )
    modules = module_files()
    assert imported(source, modules) == {"ganforge.pipelines"}


def reaching_above(layer: str, above: tuple[str, ...]) -> dict[str, list[str]]:
    """The modules of `layer` that import a module of a layer above it."""
    found = {}
    for name, targets in import_graph().items():
        if name.startswith(layer):
            wrong = sorted(t for t in targets if t.startswith(above))
            if wrong:
                found[name] = wrong
    return found


def test_metrics_never_reach_training_pipelines_or_runs() -> None:
    """Metrics compare image sets (or pairs): they never sample a generator,
    so nothing in them imports the layers above them."""
    above = ("ganforge.training", "ganforge.pipelines", "ganforge.runs", "ganforge.objectives", "ganforge.tasks", "ganforge.cli")
    assert reaching_above("ganforge.metrics", above) == {}


def test_models_know_nothing_of_training() -> None:
    """Model files are networks and their registration (BasicSR's archs):
    the game lives in objectives, the loop in training."""
    above = ("ganforge.training", "ganforge.pipelines", "ganforge.objectives", "ganforge.tasks", "ganforge.metrics", "ganforge.runs")
    assert reaching_above("ganforge.models", above) == {}
