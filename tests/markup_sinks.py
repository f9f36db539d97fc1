"""Where app code hands text to something Streamlit renders as Markdown or HTML, and whether that
text is provably safe: read from the source (``ast``), never by running it.

A *sink* is a Streamlit call whose text the browser renders as Markdown: ``st.markdown``,
``st.caption``, the alerts, ``st.toast``, ``st.write``, headings, metric labels and values, button,
widget, expander and tab labels, ``help`` tooltips, progress text, dialog titles, the options of
``st.radio``/``st.pills``/``st.segmented_control`` (and their ``format_func``), every cell of
``st.table``, and the workbench's own ``flash`` (a toast on the next run). Calls are found on
``st`` itself and on anything made from it (columns, tabs, containers, the sidebar), so a
``log.error`` or a file's ``write`` is not one. ``st.selectbox``/``st.multiselect`` options and
``st.dataframe`` cells are drawn as plain text and are not sinks.

A text is *safe* when it can only hold what the code wrote: a constant; an f-string, ``+`` or
``%`` of safe parts; a call to an escaping helper (``escape_markdown``, ``sentence``) or to a
number, credit or date formatter (``min``/``max`` among them: the pages use them on numbers);
arithmetic of safe parts; a value with a format only numbers or dates accept (``{x:,}``);
a local name every assignment of which is safe; a call to a workbench function every ``return``
of which is safe; or an expression the caller allowlists for its file, with a reason.
Anything else (an attribute, a subscript, a parameter, a loop variable) might be what a person
typed, and is reported.

Separately, ``unsafe_allow_html``, ``st.html`` and ``components.html`` are allowed only with a
constant string.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Sinks: method name -> (positional arguments, keywords) rendered as Markdown.
_LABELLED = ((0,), ("label", "help"))
SINKS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    **dict.fromkeys(
        (
            "markdown",
            "caption",
            "error",
            "warning",
            "info",
            "success",
            "exception",
            "toast",
            "title",
            "header",
            "subheader",
        ),
        ((0,), ("body", "help")),
    ),
    "metric": ((0, 1, 2), ("label", "value", "delta", "help")),
    "progress": ((1,), ("text",)),
    "spinner": ((0,), ("text",)),
    "dialog": ((0,), ("title",)),
    "page_link": ((1,), ("label", "help")),
    "tabs": ((0,), ("tabs",)),
    **dict.fromkeys(
        (
            "button",
            "download_button",
            "link_button",
            "form_submit_button",
            "expander",
            "popover",
            "status",
            "checkbox",
            "toggle",
            "text_input",
            "text_area",
            "number_input",
            "date_input",
            "time_input",
            "slider",
            "select_slider",
            "selectbox",
            "multiselect",
            "color_picker",
            "file_uploader",
            "camera_input",
            "audio_input",
            "menu_button",
        ),
        _LABELLED,
    ),
    # Their options are Markdown too (see OPTION_SINKS).
    "radio": ((0,), ("label", "help", "captions")),
    "segmented_control": _LABELLED,
    "pills": _LABELLED,
}
OPTION_SINKS = {"radio", "segmented_control", "pills"}
# Every positional argument of st.write is rendered (a string as Markdown).
WRITE = "write"
# st.table renders every cell and column name as Markdown: only constant data passes.
TABLE = "table"
HTML_CALLS = {"html"}
# The workbench's own sink: ``workbench.ui.chrome.flash`` shows its text as a toast next run.
FLASH = "flash"

# Calls whose result carries no markup whatever they are given.
ESCAPING = {"escape_markdown", "sentence"}
FORMATTERS = {
    "format_credits",
    "credits_text",
    "credits",
    "usd",
    "len",
    "int",
    "float",
    "round",
    "min",
    "max",
    "abs",
    "sum",
    "strftime",
    "isoformat",
    "token_hex",
}
# Format specs that only numbers or dates accept (``{x:,}``, ``{x:.1%}``, ``{d:%Y-%m-%d}``).
_NUMERIC_SPEC_ENDS = tuple("bcdeEfFgGnoxX%,_")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str
    shown: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.call}(…) {self.why}: {self.shown}"


def _root_name(node: ast.expr) -> str | None:
    """``st`` for ``st.sidebar.columns(2)[0]``: the name an attribute/call/subscript chain
    starts from."""
    while True:
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _targets(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _targets(element)
    elif isinstance(target, ast.Starred):
        yield from _targets(target.value)


@dataclass
class _Scope:
    """One function (or the module): its simple assignments and its parameters."""

    node: ast.AST
    parent: _Scope | None
    assigned: dict[str, list[ast.expr]] = field(default_factory=dict)
    # Names bound some other way (tuple unpacking, loops, with, parameters, imports).
    opaque: set[str] = field(default_factory=set)

    def bind(self, name: str, value: ast.expr | None) -> None:
        if value is None:
            self.opaque.add(name)
        else:
            self.assigned.setdefault(name, []).append(value)


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function or module body, not those of functions or lambdas inside it."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _own_nodes(child)


def _bind_rows(scope: _Scope, target: ast.expr, rows: list[ast.expr]) -> None:
    for row in rows:
        if isinstance(target, ast.Name):
            scope.bind(target.id, row)
        elif (
            isinstance(target, ast.Tuple)
            and isinstance(row, ast.Tuple)
            and len(row.elts) == len(target.elts)
        ):
            for element, value in zip(target.elts, row.elts, strict=True):
                for name in _targets(element):
                    scope.bind(name, value if isinstance(element, ast.Name) else None)
        else:
            for name in _targets(target):
                scope.bind(name, None)


def _scope_of(node: ast.AST, parent: _Scope | None) -> _Scope:
    scope = _Scope(node, parent)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        arguments = node.args
        for argument in (
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *(a for a in (arguments.vararg, arguments.kwarg) if a is not None),
        ):
            scope.bind(argument.arg, None)
    for child in _own_nodes(node):
        if isinstance(child, ast.Assign):
            for target in child.targets:
                if isinstance(target, ast.Name):
                    scope.bind(target.id, child.value)
                elif isinstance(target, ast.Tuple) and isinstance(child.value, ast.Tuple):
                    pairs = zip(target.elts, child.value.elts, strict=False)
                    for element, value in pairs:
                        for name in _targets(element):
                            scope.bind(name, value if isinstance(element, ast.Name) else None)
                else:
                    for name in _targets(target):
                        scope.bind(name, None)
        elif isinstance(child, ast.AnnAssign | ast.AugAssign):
            for name in _targets(child.target):
                scope.bind(name, child.value)
        elif isinstance(child, ast.For | ast.AsyncFor) and isinstance(
            child.iter, ast.Tuple | ast.List
        ):
            # ``for label, key in (("Model", "m"), ...)``: each round binds one row's values.
            _bind_rows(scope, child.target, child.iter.elts)
        elif isinstance(child, ast.For | ast.AsyncFor | ast.comprehension):
            for name in _targets(child.target):
                scope.bind(name, None)
        elif isinstance(child, ast.withitem) and child.optional_vars is not None:
            for name in _targets(child.optional_vars):
                scope.bind(name, None)
        elif isinstance(child, ast.NamedExpr):
            scope.bind(child.target.id, child.value)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            for alias in child.names:
                scope.bind((alias.asname or alias.name).split(".")[0], None)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.bind(child.name, None)
    return scope


class Module:
    """One source file: its scopes, its imports and what it calls Streamlit."""

    def __init__(self, path: Path, project: Project) -> None:
        self.path = path
        self.name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
        self.project = project
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.streamlit: set[str] = set()
        self.components: set[str] = set()
        # Local name -> (module, attribute or None for the module itself).
        self.imports: dict[str, tuple[str, str | None]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    if alias.name == "streamlit":
                        self.streamlit.add(local)
                    elif alias.name.startswith("streamlit.components"):
                        self.components.add(local)
                    self.imports[local] = (alias.name if alias.asname else local, None)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    local = alias.asname or alias.name
                    if node.module.startswith("streamlit.components"):
                        self.components.add(local)
                    self.imports[local] = (node.module, alias.name)
        self.functions: dict[str, ast.FunctionDef] = {
            node.name: node for node in self.tree.body if isinstance(node, ast.FunctionDef)
        }
        self.scopes: dict[ast.AST, _Scope] = {}
        self._owner: dict[int, _Scope] = {}
        self._build(self.tree, None)
        self.receivers = self._receivers()

    def _build(self, node: ast.AST, parent: _Scope | None) -> None:
        scope = _scope_of(node, parent)
        self.scopes[node] = scope
        for child in _own_nodes(node):
            self._owner[id(child)] = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                self._build(child, scope)

    def _receivers(self) -> set[str]:
        """Names that hold Streamlit containers (``left, right = st.columns(2)``, ``with
        st.expander(...) as box``, ``for column in st.columns(3)``, a ``DeltaGenerator``
        parameter), besides ``st`` itself."""
        found = set(self.streamlit)

        def from_streamlit(value: ast.expr | None) -> bool:
            return value is not None and any(
                isinstance(n, ast.Call) and _root_name(n) in self.streamlit for n in ast.walk(value)
            )

        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and from_streamlit(node.value):
                for target in node.targets:
                    found.update(_targets(target))
            elif isinstance(node, ast.For) and from_streamlit(node.iter):
                found.update(_targets(node.target))
            elif isinstance(node, ast.withitem) and from_streamlit(node.context_expr):
                if node.optional_vars is not None:
                    found.update(_targets(node.optional_vars))
            elif (
                isinstance(node, ast.arg)
                and node.annotation is not None
                and "DeltaGenerator" in ast.unparse(node.annotation)
            ):
                found.add(node.arg)
        return found

    def scope_at(self, node: ast.AST) -> _Scope:
        """The scope whose own body holds ``node``."""
        return self._owner.get(id(node), self.scopes[self.tree])


class Project:
    """Every module the guard reads, parsed once, and the answers about function results."""

    def __init__(self, allowlist: Mapping[tuple[str, str], str]) -> None:
        self.allowlist = allowlist
        self.modules: dict[Path, Module] = {}
        self._returns_safe: dict[tuple[str, str], bool] = {}

    def module(self, path: Path) -> Module:
        if path not in self.modules:
            self.modules[path] = Module(path, self)
        return self.modules[path]

    def module_named(self, dotted: str) -> Module | None:
        base = ROOT.joinpath(*dotted.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.exists():
                return self.module(path)
        return None

    # --- is this text safe? ----------------------------------------------------------------

    def safe(self, module: Module, scope: _Scope, node: ast.expr, seen: frozenset[str]) -> bool:
        if (module.name, ast.unparse(node)) in self.allowlist:
            return True
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(self.safe(module, scope, part, seen) for part in node.values)
        if isinstance(node, ast.FormattedValue):
            spec = node.format_spec
            if isinstance(spec, ast.JoinedStr) and all(
                isinstance(p, ast.Constant) for p in spec.values
            ):
                text = "".join(str(p.value) for p in spec.values)  # type: ignore[attr-defined]
                if text.endswith(_NUMERIC_SPEC_ENDS):
                    return True
            return self.safe(module, scope, node.value, seen)
        if isinstance(node, ast.BinOp):
            return self.safe(module, scope, node.left, seen) and self.safe(
                module, scope, node.right, seen
            )
        if isinstance(node, ast.Compare):
            return True  # True or False
        if isinstance(node, ast.UnaryOp):
            return self.safe(module, scope, node.operand, seen)
        if isinstance(node, ast.BoolOp):
            return all(self.safe(module, scope, value, seen) for value in node.values)
        if isinstance(node, ast.IfExp):
            return self.safe(module, scope, node.body, seen) and self.safe(
                module, scope, node.orelse, seen
            )
        if isinstance(node, ast.List | ast.Tuple):
            return all(self.safe(module, scope, element, seen) for element in node.elts)
        if isinstance(node, ast.Name):
            return self._name_safe(module, scope, node.id, seen) or self._constant_safe(
                module, node, seen
            )
        if isinstance(node, ast.Attribute):
            return self._constant_safe(module, node, seen)
        if isinstance(node, ast.Subscript):
            # An entry of a table of texts the code wrote (``DONE[action]``).
            table = node.value
            return isinstance(table, ast.Name | ast.Attribute) and self._table_safe(
                module, scope, table, seen
            )
        if isinstance(node, ast.Call):
            return self._call_safe(module, scope, node, seen)
        return False

    def _constant_safe(
        self, module: Module, node: ast.Name | ast.Attribute, seen: frozenset[str]
    ) -> bool:
        """A module-level name of a workbench module (``pa.INPUT_LABEL``, an imported
        ``LABEL``) whose every assignment there is safe."""
        found = self._global(module, node)
        if found is None:
            return False
        other, name = found
        return self._name_safe(other, other.scopes[other.tree], name, seen)

    def _global(self, module: Module, node: ast.expr) -> tuple[Module, str] | None:
        if isinstance(node, ast.Name):
            imported = module.imports.get(node.id)
            if imported and imported[1] and imported[0].startswith(("workbench", "ledger")):
                other = self.module_named(imported[0])
                return None if other is None else (other, imported[1])
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            imported = module.imports.get(node.value.id)
            if imported is None:
                return None
            dotted = imported[0] if imported[1] is None else f"{imported[0]}.{imported[1]}"
            if dotted.startswith(("workbench", "ledger")):
                other = self.module_named(dotted)
                return None if other is None else (other, node.attr)
        return None

    def _table_safe(
        self, module: Module, scope: _Scope, table: ast.Name | ast.Attribute, seen: frozenset[str]
    ) -> bool:
        """A dict, list or tuple literal of safe texts, assigned once and never changed."""
        if isinstance(table, ast.Name) and table.id in scope.assigned:
            owner, values = module, scope.assigned[table.id]
            owner_scope = scope
        else:
            found = self._global(module, table) if isinstance(table, ast.Attribute) else None
            if found is None and isinstance(table, ast.Name):
                found = (module, table.id)
            if found is None:
                return False
            owner, name = found
            owner_scope = owner.scopes[owner.tree]
            values = owner_scope.assigned.get(name, [])
        if len(values) != 1:
            return False
        literal = values[0]
        if isinstance(literal, ast.Dict):
            items = [v for v in literal.values if v is not None]
        elif isinstance(literal, ast.List | ast.Tuple):
            items = list(literal.elts)
        else:
            return False
        return all(self.safe(owner, owner_scope, item, seen) for item in items)

    def _name_safe(self, module: Module, scope: _Scope, name: str, seen: frozenset[str]) -> bool:
        here: _Scope | None = scope
        while here is not None:
            if name in here.opaque:
                return False
            if name in here.assigned:
                key = f"{module.name}:{id(here.node)}:{name}"
                if key in seen:
                    return True  # a loop of assignments adds nothing unsafe by itself
                return all(
                    self.safe(module, here, value, seen | {key}) for value in here.assigned[name]
                )
            here = here.parent
        return False

    def _call_safe(
        self, module: Module, scope: _Scope, call: ast.Call, seen: frozenset[str]
    ) -> bool:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ESCAPING or name in FORMATTERS:
            return True
        if name == "str" and len(call.args) == 1:
            return self.safe(module, scope, call.args[0], seen)
        target = self._function(module, func)
        return target is not None and self.returns_safe(*target)

    def _function(self, module: Module, func: ast.expr) -> tuple[Module, str] | None:
        """The workbench function a call names (``helper(...)``, ``mod.helper(...)``), if any."""
        if isinstance(func, ast.Name):
            if func.id in module.functions:
                return module, func.id
            imported = module.imports.get(func.id)
            if imported and imported[1] and imported[0].startswith(("workbench", "ledger")):
                found = self.module_named(imported[0])
                if found is not None and imported[1] in found.functions:
                    return found, imported[1]
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            imported = module.imports.get(func.value.id)
            if imported is None:
                return None
            dotted = imported[0] if imported[1] is None else f"{imported[0]}.{imported[1]}"
            if dotted.startswith(("workbench", "ledger")):
                found = self.module_named(dotted)
                if found is not None and func.attr in found.functions:
                    return found, func.attr
        return None

    def returns_safe(self, module: Module, function: str) -> bool:
        """Whether every ``return`` of a top-level function gives safe text (parameters are
        not: a function that returns what it was given is not an escaping helper)."""
        key = (module.name, function)
        if key not in self._returns_safe:
            self._returns_safe[key] = False  # while deciding: a recursive call is not safe
            node = module.functions[function]
            scope = module.scopes[node]
            returns = [n for n in _own_nodes(node) if isinstance(n, ast.Return)]
            self._returns_safe[key] = bool(returns) and all(
                r.value is not None and self.safe(module, scope, r.value, frozenset())
                for r in returns
            )
        return self._returns_safe[key]

    # --- the checks ---------------------------------------------------------------------------

    def findings(self, path: Path) -> list[Finding]:
        module = self.module(path)
        found: list[Finding] = []
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                found.extend(self._check_call(module, node))
        return found

    def _check_call(self, module: Module, call: ast.Call) -> Iterator[Finding]:
        func = call.func
        html = any(
            k.arg == "unsafe_allow_html"
            and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in call.keywords
        )
        if html:
            yield from self._constant_only(module, call, "renders HTML from")
        if isinstance(func, ast.Name) and func.id == FLASH:
            yield from self._texts(module, call, "flash", (0,), ("message",))
            return
        if not isinstance(func, ast.Attribute):
            return
        receiver = _root_name(func.value)
        if receiver in module.components and func.attr in HTML_CALLS | {"iframe"}:
            yield from self._constant_only(module, call, "renders HTML from")
            return
        if func.attr == FLASH and receiver in module.imports:
            yield from self._texts(module, call, "flash", (0,), ("message",))
            return
        if receiver not in module.receivers:
            return
        name = f"st.{func.attr}"
        if func.attr in HTML_CALLS:
            yield from self._constant_only(module, call, "renders HTML from")
        elif func.attr == TABLE:
            yield from self._constant_only(module, call, "renders every cell as Markdown from")
        elif func.attr == WRITE:
            yield from self._texts(module, call, name, tuple(range(len(call.args))), ())
        elif func.attr in SINKS:
            positions, keywords = SINKS[func.attr]
            yield from self._texts(module, call, name, positions, keywords)
            if func.attr in OPTION_SINKS:
                yield from self._options(module, call, name)

    def _texts(
        self,
        module: Module,
        call: ast.Call,
        name: str,
        positions: tuple[int, ...],
        keywords: tuple[str, ...],
    ) -> Iterator[Finding]:
        scope = module.scope_at(call)
        shown = [call.args[i] for i in positions if i < len(call.args)]
        shown += [k.value for k in call.keywords if k.arg in keywords]
        for text in shown:
            for part in self._unsafe_parts(module, scope, text):
                yield Finding(
                    module.name, call.lineno, name, ast.unparse(part), "shows as Markdown"
                )

    def _unsafe_parts(self, module: Module, scope: _Scope, text: ast.expr) -> Iterator[ast.expr]:
        """The pieces of ``text`` that make it unsafe (each f-string value on its own)."""
        if self.safe(module, scope, text, frozenset()):
            return
        if isinstance(text, ast.JoinedStr):
            for part in text.values:
                if not self.safe(module, scope, part, frozenset()):
                    yield part.value if isinstance(part, ast.FormattedValue) else part
        elif isinstance(text, ast.BinOp | ast.List | ast.Tuple | ast.IfExp):
            children = (
                [text.left, text.right]
                if isinstance(text, ast.BinOp)
                else text.elts
                if isinstance(text, ast.List | ast.Tuple)
                else [text.body, text.orelse]
            )
            for child in children:
                yield from self._unsafe_parts(module, scope, child)
        else:
            yield text

    def _options(self, module: Module, call: ast.Call, name: str) -> Iterator[Finding]:
        """Options of a radio, pills or segmented control render as Markdown: they (or what
        ``format_func`` makes of them) must be safe."""
        scope = module.scope_at(call)
        options = call.args[1] if len(call.args) > 1 else None
        options = next((k.value for k in call.keywords if k.arg == "options"), options)
        format_func = next((k.value for k in call.keywords if k.arg == "format_func"), None)
        if options is None:
            return
        options_safe = self._options_safe(module, scope, options)
        if format_func is None:
            shown_safe = options_safe
        elif isinstance(format_func, ast.Lambda):
            # The lambda's parameter is an option: as safe as the options are.
            inner = _Scope(format_func, scope)
            for argument in format_func.args.args:
                inner.bind(argument.arg, ast.Constant("") if options_safe else None)
            shown_safe = self.safe(module, inner, format_func.body, frozenset())
        else:
            # str.capitalize and the like keep a safe option safe.
            shown_safe = options_safe and ast.unparse(format_func).startswith("str.")
            shown_safe = shown_safe or (module.name, ast.unparse(format_func)) in self.allowlist
        if not shown_safe:
            yield Finding(
                module.name,
                call.lineno,
                name,
                ast.unparse(format_func or options),
                "shows options as Markdown",
            )

    def _options_safe(self, module: Module, scope: _Scope, options: ast.expr) -> bool:
        """Options that are constants: a literal, an UPPER_CASE module constant, or what a
        workbench function returns when all its returns are safe."""
        if self.safe(module, scope, options, frozenset()):
            return True
        last = options.attr if isinstance(options, ast.Attribute) else getattr(options, "id", "")
        return bool(last) and last.isupper()

    def _constant_only(self, module: Module, call: ast.Call, why: str) -> Iterator[Finding]:
        body = (
            call.args[0]
            if call.args
            else next((k.value for k in call.keywords if k.arg in ("body", "html")), None)
        )
        constant = isinstance(body, ast.Constant) or (
            isinstance(body, ast.JoinedStr)
            and all(isinstance(v, ast.Constant) for v in body.values)
        )
        if not constant:
            func = call.func
            name = f"st.{func.attr}" if isinstance(func, ast.Attribute) else ast.unparse(func)
            shown = "(nothing)" if body is None else ast.unparse(body)
            yield Finding(module.name, call.lineno, name, shown, why)


def app_files() -> list[Path]:
    """Every Python file of the app: the pages and the workbench package."""
    return sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "workbench").rglob("*.py")])


def findings(
    allowlist: Mapping[tuple[str, str], str], paths: list[Path] | None = None
) -> list[Finding]:
    project = Project(allowlist)
    found = [f for path in (paths or app_files()) for f in project.findings(path)]
    return sorted(found, key=lambda f: (f.path, f.line, f.shown))
