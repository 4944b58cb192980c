"""Architecture rules that a reader of one module cannot see.

Each listening-test method owns its numbers (trials, validation, scale, analysis, exports) in its
module in annotations/methods/, and each run mode its items, results section and claims in its
module in synthesis/run_modes/. Callers look a method or a mode up in its registry and call it, as
Django's password hashers are used, so a new one is an entry and not a hunt for `if method ==
"cmos"` or `run.mode == "latency"`. The apps' modules import one another without a cycle, not even
through an import inside a function, so that the one-way data flow holds; and no module grows past
what one reader holds in their head (MAX_LINES).
"""

import ast
import functools
import tempfile
import textwrap
from collections import deque
from itertools import pairwise
from pathlib import Path

from django.test import SimpleTestCase

from synthesis import modes

ROOT = Path(__file__).resolve().parents[1]
METHOD_NAMES = frozenset({"acr", "cmos", "ab", "mushra", "intelligibility"})
FAMILY_NAMES = frozenset({"mos", "pairs", "own"})
BRANCH_FOLDERS = ("annotations", "synthesis", "sarai_eval", "scripts")
APP_PACKAGES = ("annotations", "synthesis", "sarai_eval")
MAX_LINES = 600
SIZE_FOLDERS = ("annotations", "synthesis", "sarai_eval", "scripts", "tests/factories")
RUN_MODES_PACKAGE = ("synthesis", "run_modes")
MODE_ADVICE = (
    "Give the run mode the behaviour (a field of RunMode, set in its module in synthesis/run_modes/) "
    "or use the key constant of its module instead of comparing a run mode's key here:"
)
BRANCH_ADVICE = (
    "Add the behaviour to the method's module in annotations/methods/ and call it through the "
    "registry instead of branching on a method name or a results family:"
)


@functools.cache
def _parsed(path: Path, mtime_ns: int) -> tuple[str, ast.Module]:
    source = path.read_text(encoding="utf-8")
    return source, ast.parse(source, filename=str(path))


def parsed(path: Path) -> tuple[str, ast.Module]:
    """A module's source and syntax tree, parsed once per test process (until the file changes)."""
    return _parsed(path, path.stat().st_mtime_ns)


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
            source, tree = parsed(path)
            lines = source.splitlines()
            for line in sorted(_branch_lines(tree)):
                findings.append(f"{path.relative_to(root)}:{line}: {lines[line - 1].strip()}")
    return findings


def long_modules(root: Path, limit: int = MAX_LINES) -> list[str]:
    """Every Python module (migrations aside) longer than limit lines, with its length."""
    findings = []
    for folder in SIZE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue
            lines = len(parsed(path)[0].splitlines())
            if lines > limit:
                findings.append(f"{path.relative_to(root)}: {lines} lines")
    return findings


def _mentions_mode(node: ast.AST) -> bool:
    """An expression naming a run mode: `mode`, `run.mode`, `self.run.mode`..."""
    return any(
        (isinstance(n, ast.Name) and n.id == "mode") or (isinstance(n, ast.Attribute) and n.attr == "mode")
        for n in ast.walk(node)
    )


def _mode_key_lines(tree: ast.AST, keys: frozenset) -> set[int]:
    """Lines that compare a run mode with a key literal or filter runs on one (mode=, mode__in=)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_mentions_mode(side) for side in sides):
                lines.update(side.lineno for side in sides if _names_in(side, keys))
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ("mode", "mode__in") and _names_in(keyword.value, keys):
                    lines.add(keyword.value.lineno)
    return lines


def find_mode_key_comparisons(root: Path, keys: frozenset) -> list[str]:
    """Every comparison of a run mode with a key literal outside synthesis/run_modes/."""
    modes_package = root.joinpath(*RUN_MODES_PACKAGE)
    findings = []
    for folder in BRANCH_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts or path.is_relative_to(modes_package):
                continue
            source, tree = parsed(path)
            lines = source.splitlines()
            for line in sorted(_mode_key_lines(tree, keys)):
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


def _every_import(body: list[ast.stmt]):
    """Every import statement, those inside functions included; none under `if TYPE_CHECKING:`."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _every_import(node.orelse)
        else:
            for block in ("body", "handlers", "orelse", "finalbody"):
                for child in getattr(node, block, []) or []:
                    yield from _every_import([child] if isinstance(child, ast.stmt) else child.body)


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


def _import_graph(root: Path, *, in_functions: bool = False) -> dict[str, dict[str, int]]:
    """Module -> {imported module: line of the first import}: module-level imports, or every import."""
    modules = _app_modules(root)
    graph = {}
    for module, path in modules.items():
        tree = parsed(path)[1]
        edges = graph.setdefault(module, {})
        imports = _every_import(tree.body) if in_functions else _top_level_imports(tree.body)
        for node in imports:
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


def find_import_cycles(root: Path, *, in_functions: bool = False) -> list[str]:
    """One shortest cycle per strongly connected group, each module with the line importing the next."""
    graph = _import_graph(root, in_functions=in_functions)
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

    def test_no_import_closes_a_cycle_even_inside_a_function(self):
        cycles = find_import_cycles(ROOT, in_functions=True)
        if cycles:
            self.fail(
                "\n".join(["An import inside a function closes a cycle of the apps' modules:", *cycles])
            )

    def test_no_module_passes_600_lines(self):
        findings = long_modules(ROOT)
        if findings:
            self.fail(
                "\n".join(
                    [f"Split these by concept (a package where one file would pass {MAX_LINES}):", *findings]
                )
            )

    def test_no_module_outside_synthesis_run_modes_compares_a_run_mode_key(self):
        findings = find_mode_key_comparisons(ROOT, frozenset(modes.RUN_MODES))
        if findings:
            self.fail("\n".join([MODE_ADVICE, *findings]))

    def test_the_mode_check_finds_a_planted_comparison_and_ignores_an_iteration_kind(self):
        planted = """\
            def summary(run, entry, item):
                if run.mode == "latency":
                    pass
                runs = SynthesisRun.objects.filter(mode__in=("load", "llm-speed"))
                waiting = item.run.mode in ("latency",)
                plain = entry["kind"] == "latency"
                on_stage("load")
                return runs, waiting, plain
            """
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            _plant(root, {"synthesis/results/planted.py": planted, "synthesis/run_modes/latency.py": planted})
            findings = find_mode_key_comparisons(root, frozenset({"latency", "load", "llm-speed"}))
        where = "synthesis/results/planted.py"
        self.assertEqual(
            findings,
            [
                f'{where}:2: if run.mode == "latency":',
                f'{where}:4: runs = SynthesisRun.objects.filter(mode__in=("load", "llm-speed"))',
                f'{where}:5: waiting = item.run.mode in ("latency",)',
            ],
        )

    def test_counting_imports_inside_functions_finds_the_cycle_they_close(self):
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            _plant(
                root,
                {
                    "synthesis/__init__.py": "",
                    "synthesis/services.py": """\
                        def enqueue():
                            from synthesis import tasks
                        """,
                    "synthesis/tasks.py": "from synthesis import services\n",
                },
            )
            self.assertEqual(find_import_cycles(root), [])
            self.assertEqual(
                find_import_cycles(root, in_functions=True),
                ["synthesis.services (line 2) -> synthesis.tasks (line 1) -> synthesis.services"],
            )

    def test_the_size_check_counts_lines_and_leaves_migrations_out(self):
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            _plant(
                root,
                {
                    "annotations/big.py": "x = 1\n" * 7,
                    "annotations/small.py": "x = 1\n" * 6,
                    "annotations/migrations/0001_initial.py": "x = 1\n" * 9,
                },
            )
            self.assertEqual(long_modules(root, limit=6), ["annotations/big.py: 7 lines"])

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
