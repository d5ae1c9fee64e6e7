r"""Show a function's or class's implementation in a notebook: its docstring rendered (math as math), then its code.

The chapters show the package's code rather than a copy of it. A docstring written for Sphinx (``:math:`x```,
``.. math::`` blocks, ``:func:`~a.b``` roles, double back-quoted literals) is converted to Markdown, which Jupyter
and the book render with MathJax; the code follows without the docstring, in a Python code block.

>>> show_source(tet_loss, TET.forward)      # in a notebook: one rendered block per object
>>> print(docstring_markdown(":math:`\\alpha` of :func:`~snnlab.losses.kd_loss`"))
$\alpha$ of `kd_loss`
"""
from __future__ import annotations

import ast
import inspect
import re
import textwrap

__all__ = ["docstring_markdown", "code_without_docstring", "source_markdown", "show_source"]

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc):`(~?)([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Attributes|Keyword Args):\s*$")


def _role_text(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _inline(text: str) -> str:
    """Inline Sphinx markup to Markdown: math roles, cross-reference roles, double back-quoted literals."""
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    text = _ROLE.sub(_role_text, text)
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)


def docstring_markdown(docstring: str) -> str:
    """Markdown for a Sphinx docstring: ``.. math::`` blocks become ``$$ ... $$``, ``:math:`x``` becomes ``$x$``,
    cross-reference roles and double back-quoted literals become code spans (the short name after ``~``), the
    entries of a Google-style section (``Args:``, ``Returns:``, ...) become a bulleted list and a doctest (its
    ``>>>`` lines and their output) a Python code block; other indented lines lose their indentation (Markdown would
    show them as code)."""
    lines = inspect.cleandoc(docstring).splitlines()
    out: list[str] = []
    i = 0

    def indented(k: int) -> bool:
        return k < len(lines) and (not lines[k].strip() or lines[k].startswith((" ", "\t")))

    while i < len(lines):
        line = lines[i]
        if line.strip() == ".. math::":
            i += 1
            block = []
            while indented(i):
                block.append(lines[i])
                i += 1
            out += ["", "$$", textwrap.dedent("\n".join(block)).strip(), "$$", ""]
        elif _SECTION.match(line):
            out += ["", f"**{line.strip()}**", ""]
            i += 1
            while indented(i):
                entry = _inline(lines[i].strip())
                if entry and lines[i].startswith(" " * 8) and out[-1].startswith("* "):
                    out[-1] += " " + entry                      # a continuation line of the entry above
                elif entry:
                    out.append(f"* {entry}")
                i += 1
            out.append("")
        elif line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i].strip())
                i += 1
            out += ["```python", *block, "```"]
        else:
            out.append(_inline(line.strip() if line.startswith("    ") else line))
            i += 1
    return "\n".join(out).strip()


def code_without_docstring(obj) -> str:
    """The source of ``obj`` (a function, method or class), dedented, without its own docstring."""
    source = textwrap.dedent(inspect.getsource(obj))
    tree = ast.parse(source)
    definition = tree.body[0]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        raise TypeError(f"expected a function or class, got {type(obj).__name__}")
    first = definition.body[0] if definition.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return source.rstrip()
    lines = source.splitlines()
    del lines[first.lineno - 1:first.end_lineno]
    return "\n".join(lines).rstrip()


def source_markdown(obj) -> str:
    """Markdown for one object: its qualified name, its docstring rendered, its code in a Python block."""
    name = f"{obj.__module__}.{obj.__qualname__}"
    parts = [f"**`{name}`**"]
    if obj.__doc__ and obj.__doc__.strip():
        parts.append(docstring_markdown(obj.__doc__))
    parts.append(f"```python\n{code_without_docstring(obj)}\n```")
    return "\n\n".join(parts)


def show_source(*objects) -> None:
    """Display each object's rendered docstring and code in a notebook (see the module docstring)."""
    from IPython.display import Markdown, display

    if not objects:
        raise ValueError("show_source needs at least one function or class")
    for obj in objects:
        display(Markdown(source_markdown(obj)))
