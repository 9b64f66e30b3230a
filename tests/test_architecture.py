"""The shape the code keeps (docs/ARCHITECTURE.md): small route functions, an app module that only wires,
and the layers themselves (checked by import-linter in CI: ``lint-imports``, contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import facesearch

PACKAGE = Path(facesearch.__file__).parent
LONGEST_API_FUNCTION = 60


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    return [(node.name, (node.end_lineno or node.lineno) - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_no_function_in_the_api_is_longer_than_sixty_lines() -> None:
    too_long = [f"{path.relative_to(PACKAGE)}:{name} ({lines} lines)"
                for path in sorted((PACKAGE / "api").rglob("*.py")) for name, lines in _functions(path)
                if lines > LONGEST_API_FUNCTION]
    assert not too_long


def test_the_app_module_only_wires() -> None:
    app = PACKAGE / "api" / "app.py"
    assert len(app.read_text().splitlines()) <= 180
    routes = [node for node in ast.walk(ast.parse(app.read_text())) if isinstance(node, ast.FunctionDef)
              and any(isinstance(d, ast.Call) and getattr(d.func, "attr", "") in ("get", "post") for d in
                      node.decorator_list)]
    assert not routes, "routes belong in api/routes/ and api/console/"


def test_the_layers_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, timeout=300, check=False,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stdout[-3000:]
