"""Architecture rules that a reader of one module cannot see.

Each listening-test method owns its numbers (trials, validation, scale, analysis, exports) in its
module in annotations/methods/. Callers look a method up in the registry and call it, as Django's
password hashers are used, so a new method is an entry and not a hunt for `if method == "cmos"`.
The apps' modules also import one another without a cycle, so that the one-way data flow holds.
"""

import ast
import tempfile
import textwrap
from collections import deque
from itertools import pairwise
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[1]
METHOD_NAMES = frozenset({"acr", "cmos", "ab", "mushra", "intelligibility"})
FAMILY_NAMES = frozenset({"mos", "pairs", "own"})
BRANCH_FOLDERS = ("annotations", "synthesis", "sarai_eval", "scripts")
APP_PACKAGES = ("annotations", "synthesis", "sarai_eval")
BRANCH_ADVICE = (
    "Add the behaviour to the method's module in annotations/methods/ and call it through the "
    "registry instead of branching on a method name or a results family:"
)


def _names_in(node: ast.AST, names: frozenset) -> bool:
    """A str constant in names, or a tuple/list/set literal holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in names
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_in(element, names) for element in node.elts)
    return False


def _branch_lines(tree: ast.AST) -> set[int]:
    """Lines that compare, match or default to a method name, or filter on one."""
    forbidden = METHOD_NAMES | FAMILY_NAMES
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            lines.update(side.lineno for side in sides if _names_in(side, forbidden))
        elif isinstance(node, ast.match_case):
            for pattern in ast.walk(node.pattern):
                if isinstance(pattern, ast.MatchValue) and _names_in(pattern.value, forbidden):
                    lines.add(pattern.lineno)
        elif isinstance(node, ast.BoolOp):
            # A fallback such as `test.method or "acr"`: the default method belongs to the registry.
            lines.update(value.lineno for value in node.values if _names_in(value, METHOD_NAMES))
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "method" and _names_in(keyword.value, METHOD_NAMES):
                    lines.add(keyword.value.lineno)
    return lines


def find_branches(root: Path) -> list[str]:
    """Every branch on a method name or results family outside annotations/methods/."""
    methods_package = root / "annotations" / "methods"
    findings = []
    for folder in BRANCH_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts or path.is_relative_to(methods_package):
                continue
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            for line in sorted(_branch_lines(ast.parse(source, filename=str(path)))):
                findings.append(f"{path.relative_to(root)}:{line}: {lines[line - 1].strip()}")
    return findings


def _app_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for the apps' own modules (no migrations, no tests)."""
    modules = {}
    for package in APP_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts or "tests" in parts or parts[-1].startswith("test_"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`, whose imports never run."""
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _top_level_imports(body: list[ast.stmt]):
    """Import statements run when the module loads: top level and top-level try/if blocks."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.Try):
            for block in [node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody]:
                yield from _top_level_imports(block)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)


def _imported_modules(node: ast.stmt, module: str, is_package: bool, modules: dict) -> list[str]:
    """The app modules one import statement loads, without their parent packages."""
    if isinstance(node, ast.Import):
        # `import a.b.c` names a.b.c; keep the deepest part of the name that is an app module.
        targets = []
        for alias in node.names:
            parts = alias.name.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts:
                targets.append(".".join(parts))
        return targets
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    targets = []
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            targets.append(f"{base}.{alias.name}")
        elif base in modules:
            targets.append(base)
    return targets


def _import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module: line of the first import}, module-level imports only."""
    modules = _app_modules(root)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = graph.setdefault(module, {})
        for node in _top_level_imports(tree.body):
            for target in _imported_modules(node, module, path.name == "__init__.py", modules):
                if target != module:  # `from . import name` in a package's __init__
                    edges.setdefault(target, node.lineno)
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm; recursion is as deep as the longest import chain, a few dozen modules."""
    index, low, stack, components = {}, {}, [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            components.append(sorted(stack[stack.index(node) :]))
            del stack[stack.index(node) :]

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_through(first: str, members: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """The shortest import path from first back to itself inside one component."""
    came_from, queue = {}, deque([first])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node]):
            if successor == first:
                path = [node]
                while path[-1] != first:
                    path.append(came_from[path[-1]])
                return [*reversed(path), first]
            if successor in members and successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    return [first]


def find_import_cycles(root: Path) -> list[str]:
    """One shortest cycle per strongly connected group, each module with the line importing the next."""
    graph = _import_graph(root)
    cycles = []
    for component in sorted(c for c in _strongly_connected(graph) if len(c) > 1):
        path = _cycle_through(component[0], set(component), graph)
        steps = [f"{a} (line {graph[a][b]})" for a, b in pairwise(path)]
        cycles.append(" -> ".join([*steps, path[-1]]))
    return cycles


def _plant(root: Path, files: dict[str, str]) -> None:
    """Write a throw-away source tree: file name -> source."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


class LayoutTests(SimpleTestCase):
    def test_no_module_outside_the_methods_package_branches_on_a_method_name(self):
        findings = find_branches(ROOT)
        if findings:
            self.fail("\n".join([BRANCH_ADVICE, *findings]))

    def test_the_apps_module_level_imports_form_no_cycle(self):
        cycles = find_import_cycles(ROOT)
        if cycles:
            self.fail("\n".join(["The apps' modules import one another in a cycle:", *cycles]))

    def test_the_branch_check_finds_a_planted_branch_and_ignores_a_subscript(self):
        planted = """\
            def summary(test, data, request):
                if test.method == "mushra":
                    pass
                kind = "pairs" if test.method in ("ab", "cmos") else "mos"
                match test.method:
                    case "intelligibility":
                        pass
                name = test.method or "acr"
                tests = ListeningTest.objects.filter(method="cmos")
                mean = data["mos"]
                family = data.get("results") or "mos"
                if request.method == "POST":
                    pass
                return kind, name, tests, mean, family
            """
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            _plant(root, {"annotations/results/planted.py": planted, "annotations/methods/acr.py": planted})
            findings = find_branches(root)
        where = "annotations/results/planted.py"
        self.assertEqual(
            findings,
            [
                f'{where}:2: if test.method == "mushra":',
                f'{where}:4: kind = "pairs" if test.method in ("ab", "cmos") else "mos"',
                f'{where}:6: case "intelligibility":',
                f'{where}:8: name = test.method or "acr"',
                f'{where}:9: tests = ListeningTest.objects.filter(method="cmos")',
            ],
        )

    def test_the_cycle_check_finds_a_planted_cycle_and_ignores_an_import_in_a_function(self):
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            _plant(
                root,
                {
                    "annotations/__init__.py": "",
                    "annotations/a.py": """\
                        from typing import TYPE_CHECKING

                        import annotations.b

                        if TYPE_CHECKING:
                            from annotations import d


                        def later():
                            from annotations import c
                        """,
                    "annotations/b.py": "from . import a\n",
                    "annotations/c.py": "from annotations.a import later\n",
                    "annotations/d.py": "import annotations.a\n",
                },
            )
            cycles = find_import_cycles(root)
        self.assertEqual(cycles, ["annotations.a (line 3) -> annotations.b (line 1) -> annotations.a"])
