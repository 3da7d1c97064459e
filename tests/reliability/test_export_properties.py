"""Properties of the exporter on random notebooks (issue 10, the suite).

Arbitrary Unicode (line breaks of every kind included) in file names, asset descriptions,
check names and SQL: each export parses, holds exactly the expected top-level statements, keeps
every text exactly (as literals) and is deterministic. A Python cell whose code holds a line
break but ``\\n`` is refused, naming the cell.
"""

from __future__ import annotations

import ast
import json
import keyword
import os
import shlex
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nbassets.config import Project
from nbassets.errors import SpecError
from nbassets.exporter import module_text

STRAY_BREAKS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
SETTINGS = settings(max_examples=150, deadline=None)

# Any character but NUL (no file name or SQL string holds one) and surrogates (Hypothesis'
# text() leaves those out: they are no characters).
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
line_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\n"), max_size=30
)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda k: not keyword.iskeyword(k) and not k.startswith("check_")
)
file_names = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00/"), min_size=1, max_size=40
).filter(lambda n: len(os.fsencode(n + ".ipynb")) < 250)


@st.composite
def notebooks(draw: st.DrawFn) -> tuple[str, list[str], list[tuple[str, str]]]:
    """A file name, cell sources, and what each cell must export: ("asset"|"check", text)."""
    names = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    cells: list[str] = []
    expected: list[tuple[str, str]] = []
    for number, key in enumerate(names):
        desc = draw(st.none() | line_text)
        option = "" if desc is None else f" \\\n--desc={shlex.quote(desc)}"  # a continued line
        if draw(st.booleans()):
            literal = draw(text).replace("'", "''")
            source = f' FROM "{names[number - 1]}"' if number else ""
            cells.append(f"%%asset {key} --sql{option}\nSELECT '{literal}' AS x{source}")
        else:
            cells.append(f"%%asset {key}{option}\n{key} = {number}")
        expected.append(("asset", key if desc is None else f"{key}\x00{desc}"))
        names_ok = line_text.filter(lambda n: n.strip() and n != "--")  # --name=-- is refused
        for check in draw(st.lists(names_ok, max_size=2)):
            cells.append(f"%%check {key} \\\n--name={shlex.quote(check)}\nassert {key} is not None")
            expected.append(("check", f"{key}\x00{check}"))
    return draw(file_names), cells, expected


def export(root: Path, file_name: str, cells: list[str]) -> tuple[str, str]:
    """Write the project and the notebook; return the notebook's path in it and its module."""
    (root / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    path = root / "notebooks" / (file_name + ".ipynb")
    path.parent.mkdir(exist_ok=True)
    raw = [{"cell_type": "code", "id": f"c{n}", "metadata": {}, "source": s, "outputs": [],
            "execution_count": None} for n, s in enumerate(cells)]  # fmt: skip
    path.write_text(json.dumps({"cells": raw, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return f"notebooks/{file_name}.ipynb", module_text(Project.find(root), path)


@SETTINGS
@given(notebooks())
def test_every_export_parses_holds_the_expected_statements_and_is_deterministic(
    notebook: tuple[str, list[str], list[tuple[str, str]]],
) -> None:
    file_name, cells, expected = notebook
    with tempfile.TemporaryDirectory() as folder:
        name, text = export(Path(folder), file_name, cells)
        assert module_text(Project.find(Path(folder)), Path(folder) / name) == text
    assert text.split("\n")[:-1] == text.splitlines(), "a line break but \\n"
    tree = ast.parse(text)
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds == ["Expr", "ImportFrom"] + ["FunctionDef"] * len(expected) + ["Assign"] * 2
    assert ast.get_docstring(tree) is not None
    shown = text.split("\n", 1)[0].removeprefix('"""Assets of ')
    shown = shown.removesuffix(", exported by nbassets.")
    assert shown == name or ast.literal_eval(shown) == name  # as is, or as its literal
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert len(set(functions)) == len(functions), "two cells, one function"
    namespace: dict[str, object] = {}
    exec(compile(tree, "<export>", "exec"), namespace)  # defines functions and the registry only
    assets = {a.key: a for a in namespace["ASSETS"]}  # type: ignore[attr-defined]
    checks = list(namespace["CHECKS"])  # type: ignore[call-overload]
    for (kind, value), function in zip(expected, functions, strict=True):
        key, _, detail = value.partition("\x00")
        if kind == "asset":
            assert function == key
            assert assets[key].source == f"{name} :: {key}"
            assert assets[key].description == (detail or None)  # an empty one is left out
        else:
            check = checks.pop(0)
            assert (check.asset, check.name, check.function.__name__) == (key, detail, function)
            assert check.source == f"{name} :: {key} check {detail}"


@SETTINGS
@given(line_text, st.sampled_from(["asset", "check", "export"]))
def test_a_comment_with_a_line_break_but_newline_is_refused_else_kept(
    comment: str, kind: str
) -> None:
    header = {"asset": "%%asset b\n", "check": "%%check a\n", "export": "# nbassets: export\n"}
    cells = ["%%asset a\na = 1", f"{header[kind]}x = 1  # {comment}\nb = x"]
    with tempfile.TemporaryDirectory() as folder:
        if set(comment) & set(STRAY_BREAKS):
            try:
                export(Path(folder), "n", cells)
            except SpecError as exc:
                assert str(exc).startswith("notebooks/n.ipynb, cell 2, line 2: ")
            else:
                raise AssertionError("a stray line break was exported")
        else:
            _, text = export(Path(folder), "n", cells)
            assert f"    x = 1  # {comment}\n" in text or f"\nx = 1  # {comment}\n" in text
            assert text.split("\n")[:-1] == text.splitlines()
