"""CLI commands: ``quantforge strategies list|show`` (registered on the shared Typer app)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quantforge.cli._app import app, console

if TYPE_CHECKING:
    from quantforge.strategies.params import Param

__all__ = ["app", "strategies_app"]

strategies_app = typer.Typer(
    help="List the built-in strategies and show their parameters and rules.",
    no_args_is_help=True,
)
app.add_typer(strategies_app, name="strategies")


def _paths(name: str) -> str:
    from quantforge.strategies import registry

    return "signals, events" if registry.get(name).has_signals else "events"


@strategies_app.command("list")
def list_strategies(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the built-in strategies (name, engine paths, summary)."""
    from quantforge.strategies import registry

    if as_json:
        rows = [
            {"name": n, "paths": _paths(n).split(", "), "summary": registry.get(n).summary}
            for n in registry.names()
        ]
        console.print_json(json.dumps(rows))
        return
    table = Table(title="built-in strategies")
    table.add_column("name", style="bold")
    table.add_column("engine paths")
    table.add_column("summary")
    for name in registry.names():
        table.add_row(name, _paths(name), escape(registry.get(name).summary))
    console.print(table)


def _param_row(p: Param) -> dict[str, object]:
    return {
        "name": p.name,
        "type": p.kind.__name__,
        "default": p.default,
        "allowed": p.allowed,
        "description": p.doc,
    }


@strategies_app.command("show")
def show_strategy(
    name: Annotated[str, typer.Argument(help="Registry name, e.g. ma_cross.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show one strategy: parameters (defaults, allowed ranges), constraints and rules."""
    from quantforge.strategies import registry

    definition = registry.get(name)
    rows = [_param_row(p) for p in definition.space.params]
    # constraint messages name the values as ' ({slow})'; the rule alone reads 'slow must be > fast'
    constraints = [re.sub(r"\s*\(\{\w+\}\)", "", m) for m, _ in definition.space.constraints]
    if as_json:
        payload = {
            "name": definition.name,
            "summary": definition.summary,
            "paths": _paths(name).split(", "),
            "params": rows,
            "constraints": constraints,
            "rules": definition.rules,
        }
        console.print_json(json.dumps(payload))
        return
    console.print(f"[bold]{definition.name}[/] — {escape(definition.summary)}")
    console.print(f"engine paths: {_paths(name)}")
    table = Table(title="parameters")
    for column in ("name", "type", "default", "allowed", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(row[c])) for c in ("name", "type", "default", "allowed")),
                      escape(str(row["description"])))  # fmt: skip
    console.print(table)
    if constraints:
        console.print("constraints:")
        for message in constraints:
            console.print(f"  - {escape(message)}")
    console.print("rules:", style="bold")
    console.print(escape(definition.rules), highlight=False)
