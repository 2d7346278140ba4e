"""The package's shape: imports follow the pipeline, cli's imports form no circle, modules and functions stay short.

Every module under src/thinkact is parsed (not imported), so an import inside a function counts as much as one at
the top of a file. Each failure names the file, the line and what to do about it.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "thinkact"

# The layers follow the pipeline: conversations are read (data), run against tools (envs) by a policy (models) in
# episodes (rollout), scored (rewards), learned from (train), measured (eval), served (serve) and benchmarked
# (bench); integrations adapt all of that to other trainers, the top-level apps (chat, demo, recipes) compose the
# stages, and the command line sits on top. A stage may use the ones before it, never one after it, so each stage
# can be read, tested and replaced without the stages downstream of it.
LAYERS = [
    "core",
    "data",
    "envs",
    "models",
    "rollout",
    "rewards",
    "train",
    "eval",
    "serve",
    "bench",
    "integrations",
    "apps",
    "cli",
]
# Top-level modules of the package that are not packages of their own, with their layer.
TOP_LEVEL_MODULES = {
    "__init__": "core",
    "errors": "core",
    "jsonsafe": "core",
    "files": "core",
    "threads": "core",
    "config": "core",
    "parse": "core",
    "chat": "apps",
    "demo": "apps",
    "recipes": "apps",
    "__main__": "cli",
}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
LENGTH_CHECKED = [PACKAGE, ROOT / "benchmarks"]


def module_name(path: Path) -> str:
    """`src/thinkact/data/rename.py` → `thinkact.data.rename`; a package's `__init__.py` names the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = package_modules()


def layer_of(module: str) -> str | None:
    """The layer of a thinkact module, or None for a top-level module no layer has been given to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    if parts[1] in LAYERS:
        return parts[1]
    return TOP_LEVEL_MODULES.get(parts[1])


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, thinkact module) for every import of thinkact in a file, wherever in the file it is, each once."""
    found: dict[tuple[int, str], None] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "thinkact":
                    found[node.lineno, alias.name] = None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "thinkact":
                continue
            for alias in node.names:
                # `from thinkact.cli import options` imports the module thinkact.cli.options
                submodule = f"{base}.{alias.name}"
                found[node.lineno, submodule if submodule in MODULES else base] = None
    yield from found


def test_every_module_has_a_layer() -> None:
    unplaced = [
        f"{relative(path)}: top-level module {name!r} has no layer; add it to TOP_LEVEL_MODULES in "
        f"tests/test_architecture.py or move it into the package of its pipeline stage"
        for name, path in MODULES.items()
        if layer_of(name) is None
    ]
    assert not unplaced, "\n".join(unplaced)


def test_no_module_imports_a_later_layer() -> None:
    upward = []
    for name, path in MODULES.items():
        own = layer_of(name)
        if own is None:
            continue
        for line, target in imports(path):
            theirs = layer_of(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
                upward.append(
                    f"{relative(path)}:{line}: {name} (layer {own}) imports {target} (layer {theirs}), a later "
                    f"stage; move what it needs down to layer {own} or earlier, or have the caller pass it in"
                )
    assert not upward, "\n".join(upward)


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle in `graph` (module → {imported module: line}) as a list of modules, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cli_modules_import_no_circle() -> None:
    cli = {name: path for name, path in MODULES.items() if name.split(".")[:2] == ["thinkact", "cli"]}
    graph = {
        name: {target: line for line, target in imports(path) if target in cli and target != name}
        for name, path in cli.items()
    }
    cycle = find_cycle(graph)
    if cycle is None:
        return
    steps = [
        f"  {relative(cli[source])}:{graph[source][target]}: {source} imports {target}"
        for source, target in itertools.pairwise(cycle)
    ]
    raise AssertionError(
        "cli modules import each other in a circle:\n"
        + "\n".join(steps)
        + "\nmove the pieces they share into a cli module that imports no command module (e.g. cli/options.py)"
    )


def checked_files() -> Iterator[Path]:
    for folder in LENGTH_CHECKED:
        yield from sorted(folder.rglob("*.py"))


def test_no_module_is_too_long() -> None:
    long_modules = []
    for path in checked_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long_modules.append(
                f"{relative(path)}: {lines} lines (at most {MAX_MODULE_LINES}); split it into modules that "
                f"each hold one concept"
            )
    assert not long_modules, "\n".join(long_modules)


def test_no_function_is_too_long() -> None:
    long_functions = []
    for path in checked_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long_functions.append(
                        f"{relative(path)}:{node.lineno}: function {node.name} has {lines} lines (at most "
                        f"{MAX_FUNCTION_LINES}); split it into functions that each do one step"
                    )
    assert not long_functions, "\n".join(long_functions)
