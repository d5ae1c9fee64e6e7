"""snnlab.source: docstrings rendered for the book (math as math), code shown without them."""
from __future__ import annotations

import ast

import pytest

from snnlab.losses import tet_loss
from snnlab.methods import TET
from snnlab.source import code_without_docstring, docstring_markdown, source_markdown


def _example(x, y=1):
    r"""Add :math:`x` and :math:`y` with :func:`~snnlab.losses.tet_loss` and ``y``:

    .. math::

        z = x + y

    Args:
        x: the first term,
            long enough to continue.
        y: the second.

    >>> _example(1)
    2
    """
    return x + y


def test_docstring_markdown_renders_math_roles_sections_and_doctests():
    assert docstring_markdown(_example.__doc__) == (
        "Add $x$ and $y$ with `tet_loss` and `y`:\n\n\n$$\nz = x + y\n$$\n\n\n"
        "**Args:**\n\n* x: the first term, long enough to continue.\n* y: the second.\n\n"
        "```python\n>>> _example(1)\n2\n```")


def test_role_without_tilde_keeps_the_full_name():
    assert docstring_markdown(":class:`snnlab.methods.TET`") == "`snnlab.methods.TET`"


def test_code_without_docstring_keeps_the_signature_and_body_only():
    code = code_without_docstring(_example)
    assert code.splitlines()[0] == "def _example(x, y=1):"
    assert '"""' not in code and "return x + y" in code
    ast.parse(code)
    method = code_without_docstring(TET.forward)             # a method: dedented
    assert method.startswith("def forward(")
    ast.parse(method)


def test_source_markdown_of_a_package_function_has_math_and_code():
    text = source_markdown(tet_loss)
    assert text.startswith("**`snnlab.losses.tet.tet_loss`**")
    assert "$$" in text and ":math:" not in text
    assert "```python\ndef tet_loss(" in text


def test_objects_without_source_are_refused():
    with pytest.raises(TypeError):
        code_without_docstring(len)
