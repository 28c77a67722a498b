"""`openday sample …`: spot-check sample draws."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.shared import console, run_action

sample_app = typer.Typer(help="Spot-check sample draws.", no_args_is_help=True)


@sample_app.command("verify")
def sample_verify(draw_id: Annotated[int, typer.Argument(help="sample draw id")]) -> None:
    """Re-draw a recorded sample from its seed, population snapshot and method; exit 1 if the
    units differ."""
    from workflows.kernel.visibility import SYSTEM
    from workflows.oversight import sampling

    # The command line runs on the server, at the city level.
    result = run_action(lambda session, _now: sampling.verify(session, draw_id, SYSTEM))
    ids = ", ".join(map(str, result["recorded"]))
    if result["matches"]:
        console.print(f"一致 / reproduced: draw {draw_id} ({result['method']}) → {ids}")
        return
    console.print(
        f"[red]不一致 / mismatch: recorded {ids}; redrawn "
        f"{', '.join(map(str, result['redrawn']))}[/]",
        soft_wrap=True,
    )
    raise typer.Exit(1)
