"""Every Python code block of README.rst and docs/*.rst runs on its own.

A reader copies one block into a fresh interpreter, so each block runs in a
fresh namespace, in an empty working folder. Python blocks are
``.. code-block:: python`` (or ``code`` / ``sourcecode``, also ``pycon``) and
literal ``::`` blocks whose text parses as Python; a block of ``>>>`` prompts
runs as a doctest. Shell blocks and program output are not run (the command
line has its own tests).

A block that continues the one before it on a tutorial page (and uses its
names) is marked by an rst comment before it; the two then run together, in
one namespace. A block that must not run (it needs a cluster, the network or
a file it does not make) is marked the same way, with the reason. A marker
applies to the next code block of the file::

    .. docs-test: continue
    .. docs-test: skip, needs a dask scheduler at the address shown

README.rst has no continued blocks: each of its blocks runs copy-pasted alone.
"""

import ast
import doctest
import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]

_PYTHON = {"python", "python3", "py", "pycon"}
_DIRECTIVE = re.compile(r"^(\s*)\.\. (?:code-block|code|sourcecode)::\s*(\S*)\s*$")
_MARKER = re.compile(r"^\s*\.\. docs-test: (skip|continue)\b")


def _indented_block(lines, start, indent):
    """The lines from ``start`` on that are indented deeper than ``indent``."""
    block = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip("\n")


def _is_python(text):
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def code_blocks(path):
    """Yield ``(line, text, marker)`` for every Python block of ``path``.

    ``marker`` is ``"skip"``, ``"continue"`` or None.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    marker = None
    for number, line in enumerate(lines):
        found = _MARKER.match(line)
        if found:
            marker = found.group(1)
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            indent = len(directive.group(1))
            start = number + 1
            # Options such as ``:caption:`` come first.
            while start < len(lines) and lines[start].strip().startswith(":"):
                start += 1
            text = _indented_block(lines, start, indent)
            python = directive.group(2).lower() in _PYTHON
        elif line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            indent = len(line) - len(line.lstrip())
            text = _indented_block(lines, number + 1, indent)
            python = bool(text) and (text.startswith(">>>") or _is_python(text))
        else:
            continue
        if python:
            yield number + 1, text, marker
        marker = None


def code_chains(path):
    """Group the blocks of ``path`` into chains that run in one namespace each.

    Returns a list of ``(name, texts, skipped)``.
    """
    chains = []
    for line, text, marker in code_blocks(path):
        if marker == "continue" and chains:
            name, texts, skipped = chains[-1]
            chains[-1] = (f"{name}+{line}", [*texts, text], skipped)
        else:
            label = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
            chains.append((f"{label}:{line}", [text], marker == "skip"))
    return chains


def _cases():
    for path in DOCUMENTS:
        for name, texts, skipped in code_chains(path):
            marks = [pytest.mark.skip(reason="marked docs-test: skip")] if skipped else []
            yield pytest.param(name, texts, id=name, marks=marks)


def _run(name, text, namespace):
    if text.startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(text, namespace, name, name, 0)
        runner = doctest.DocTestRunner(
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
        runner.run(test, clear_globs=False)
        assert runner.failures == 0, f"{name}: a doctest example failed (output above)"
    else:
        exec(compile(text, name, "exec"), namespace)


# Modules of the library that import an optional package themselves.
_NEEDS = {"sklearn_pertlearn.plotting": "matplotlib"}


def _missing_modules(texts):
    """Top-level modules that the blocks import and that are not installed."""
    names = set()
    for text in texts:
        source = doctest.script_from_examples(text) if text.startswith(">>>") else text
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
            else:
                continue
            names.update(_NEEDS.get(module, module.split(".")[0]) for module in modules)
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


@pytest.mark.parametrize("name, texts", list(_cases()))
def test_code_blocks_run_on_their_own(name, texts, tmp_path, monkeypatch):
    # Optional packages (an extra such as [plot] or [imbalanced]): as in the
    # doctests, a block that needs one that is not installed is skipped.
    missing = _missing_modules(texts)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}, not installed")
    monkeypatch.chdir(tmp_path)
    # Caches such as memory="~/.cache/..." go to the temporary folder.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__main__"}
    for text in texts:
        _run(name, text, namespace)


def test_readme_blocks_are_not_continued():
    assert all(len(texts) == 1 for _, texts, _ in code_chains(ROOT / "README.rst"))


def test_the_extractor_finds_blocks_and_skips(tmp_path):
    """The extraction itself, on a document with every kind of block."""
    document = textwrap.dedent(
        """\
        Title
        =====

        A shell block:

        .. code-block:: bash

           pip install -e .

        A Python block with an option:

        .. code-block:: python
           :caption: example

           x = 1

        Output, not Python::

           accuracy of f      1.000

        A literal Python block::

           import math
           y = math.pi

        .. docs-test: continue

        Continued::

           z = y

        .. docs-test: skip, needs a cluster

        Skipped::

           connect()

        A doctest::

           >>> 1 + 1
           2
        """
    )
    path = tmp_path / "example.rst"
    path.write_text(document)
    assert [(text, marker) for _, text, marker in code_blocks(path)] == [
        ("x = 1", None),
        ("import math\ny = math.pi", None),
        ("z = y", "continue"),
        ("connect()", "skip"),
        (">>> 1 + 1\n2", None),
    ]
    assert [(texts, skipped) for _, texts, skipped in code_chains(path)] == [
        (["x = 1"], False),
        (["import math\ny = math.pi", "z = y"], False),
        (["connect()"], True),
        ([">>> 1 + 1\n2"], False),
    ]
