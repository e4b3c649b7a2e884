"""The import graph of the project's apps (function-local imports included, as grimp reads every import
statement): no module imports, directly or through others, a module that imports it back."""

import ast
import sys
from pathlib import Path

import grimp

APPS = ("portal", "partners", "deals", "rebates", "demo")
ROOT = Path(__file__).resolve().parent.parent


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, imported = work[-1]
            for target in imported:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def build_graph():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # An import under ``if TYPE_CHECKING:`` is never executed (annotations only): it makes no runtime cycle.
    return grimp.build_graph(*APPS, cache_dir=None, exclude_type_checking_imports=True)


def test_the_cycle_finder_finds_a_cycle_through_a_function_local_import():
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert import_cycles(graph) == [["a.x", "a.y", "a.z"]]
    graph.remove_import(importer="a.z", imported="a.x")
    assert import_cycles(graph) == []


def test_the_apps_have_no_import_cycle():
    graph = build_graph()
    assert graph.direct_import_exists(importer="rebates.services", imported="portal.outbox")  # the graph is real
    assert import_cycles(graph) == []


def test_the_kernel_cycles_through_the_task_modules_are_gone():
    graph = build_graph()
    for module, tasks in (("portal.emails", "portal.tasks"), ("rebates.services", "rebates.tasks")):
        assert not graph.chain_exists(importer=module, imported=tasks), module


def test_no_module_imports_a_tasks_module():
    """Work is queued by task name through the outbox, so services never depend on their tasks (no cycle)."""
    graph = build_graph()
    tasks_modules = [module for module in graph.modules if module.endswith(".tasks")]
    assert "rebates.tasks" in tasks_modules
    importers = {module: sorted(graph.find_modules_that_directly_import(module)) for module in tasks_modules}
    assert {module: found for module, found in importers.items() if found} == {}


def test_tasks_are_queued_only_through_the_outbox():
    """No ``.delay()``, ``apply_async``, ``send_task`` or ``on_commit`` outside ``portal/outbox.py``: a task
    queued any other way is lost (or a 500 after the commit) when the broker is down."""
    queueing = {"delay", "apply_async", "delay_on_commit", "apply_async_on_commit", "send_task", "on_commit"}
    offenders = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path == ROOT / "portal" / "outbox.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in queueing:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()")
    assert offenders == []
