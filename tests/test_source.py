"""Reading an asset body: value, free names, code version."""

from __future__ import annotations

import pytest

from nbassets.errors import CycleError, SpecError
from nbassets.source import analyze_body, function_ast


def free(body: str, key: str = "out") -> set[str]:
    return set(analyze_body(key, body).free_names)


def test_value_kinds() -> None:
    assert analyze_body("x", "1 + 1").value == "expression"
    assert analyze_body("x", "y = 2\nx = y").value == "assignment"
    assert analyze_body("x", "x: int = 2").value == "assignment"
    with pytest.raises(SpecError, match="has no value.*Assign on line 1"):
        analyze_body("x", "y = 2")
    with pytest.raises(SpecError, match="has no value.*For on line 1"):
        analyze_body("x", "for i in range(3):\n    x = i")
    with pytest.raises(SpecError, match="syntax error on line 1"):
        analyze_body("x", "1 +")


def test_free_names_in_evaluation_order() -> None:
    assert free("a + b") == {"a", "b"}
    assert free("a = 1\na + b") == {"b"}
    assert free("a = a + 1\na") == {"a"}  # read before written
    assert free("a += 1\na") == {"a"}
    assert free("import pandas as pd\npd.DataFrame(raw)") == {"raw"}
    assert free("from x import y\ny") == set()
    assert free("[r for r in rows if r > limit]") == {"rows", "limit"}
    assert free("{k: v for k, v in pairs}") == {"pairs"}
    assert free("def f(x):\n    return x + offset\nf(raw)") == {"offset", "raw"}
    assert free("def f(x):\n    y = 1\n    return y\nf(1)") == set()
    assert free("lambda_ = lambda r: r * scale\nlambda_(1)") == {"scale"}
    assert free("class K:\n    size = width\nK") == {"width"}
    assert free("for i in items:\n    pass\ni") == {"items"}
    assert free("with open(p) as fh:\n    pass\nfh") == {"open", "p"}
    assert free("try:\n    1\nexcept ValueError as e:\n    e\n0") == {"ValueError"}
    assert free("(n := count) + n") == {"count"}
    assert free("match v:\n    case {'a': a, **rest}:\n        a\n0") == {"v"}


def test_reading_itself_is_a_cycle() -> None:
    with pytest.raises(CycleError, match="out -> out"):
        analyze_body("out", "out = out + 1")
    assert analyze_body("out", "out = 1\nout = out + 1").value == "assignment"


def test_code_version_ignores_formatting_and_comments_but_not_literals() -> None:
    base = analyze_body("x", "df = raw[raw.a > 1]\ndf").code_version()
    assert (
        analyze_body("x", "# a comment\n\ndf = raw[ raw.a>1 ]  # inline\n\n\ndf").code_version()
        == base
    )
    assert analyze_body("x", "df = raw[raw.a > 2]\ndf").code_version() != base
    assert analyze_body("x", "df = raw[raw.a > 1]\ndf").code_version({"io": "pickle"}) != base


def test_function_ast_returns_the_value_and_keeps_line_numbers() -> None:
    module = function_ast("total", "parts = [1, 2]\ntotal = sum(parts)", ["raw"], "<cell>")
    func = module.body[0]
    assert func.name == "total" and [a.arg for a in func.args.args] == ["raw"]
    assert func.body[0].lineno == 1 and func.body[-1].lineno == 2
    namespace: dict = {}
    exec(compile(module, "<cell>", "exec"), namespace)
    assert namespace["total"](raw=None) == 3


def test_bound_names_are_the_top_level_bindings_only() -> None:
    """What a partitioned cell may not assign (``partition``) is decided from these."""
    body = (
        "import numpy as np\n"
        "from os import path\n"
        "for day in range(3):\n    total = day\n"
        "with open('f') as handle:\n    pass\n"
        "def helper(partition):\n    inner = partition\n    return inner\n"
        "squares = [n * n for n in range(3)]\n"
        "out = total"
    )
    bound = analyze_body("out", body).bound
    assert bound == {"np", "path", "day", "total", "handle", "helper", "squares", "out"}
    assert "partition" not in bound and "inner" not in bound and "n" not in bound
