"""`openday backup` and `openday restore`: a consistent snapshot of the database with the
uploaded files and a manifest, and its checked restore (workflows/backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.shared import console
from settings import Settings, get_settings


def backup(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="archive path (default: OPENDAY_BACKUP_DIR/openday-<UTC time>.tar)",
        ),
    ] = None,
) -> None:
    """Snapshot the database and the uploaded files, with a manifest, into one tar archive."""
    from cli.shared import open_engine
    from workflows.backup import nightly, snapshot
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError

    settings = get_settings()
    now = SystemClock().now()
    out = output or settings.backup_path / snapshot.default_name(now)
    engine = open_engine()
    try:
        taken = nightly.take_recorded(engine, settings, now, out)
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    assert taken is not None  # no claim: never skipped
    manifest = taken.manifest
    rows = sum(manifest["row_counts"].values())
    console.print(
        f"[green]备份完成 / backup written: {taken.path}[/] (migration "
        f"{manifest['migration_head']}, {rows} rows, {len(manifest['files'])} files)",
        soft_wrap=True,
        highlight=False,
    )
    typer.echo(str(taken.path))


def restore(
    archive: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    force: Annotated[
        bool, typer.Option("--force", help="write over a database that already holds data")
    ] = False,
    check_only: Annotated[
        bool,
        typer.Option("--check", help="only check the archive against this setup; write nothing"),
    ] = False,
) -> None:
    """Restore a backup archive into the configured database and uploads folder; refuse a
    damaged or mismatched archive, or a non-empty database without --force."""
    from workflows.backup import restore as flow
    from workflows.kernel.errors import DomainError

    settings = get_settings()
    if check_only:
        _check(archive, settings)
        return
    try:
        done = flow.restore(
            archive,
            settings.migrate_url(),  # the owner: restores every district
            settings.upload_dir,
            settings=settings,
            force=force,
        )
    except DomainError as exc:
        console.print(f"[red]错误：{exc.message_zh} / error: {exc.message_en}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc
    head = done.manifest["migration_head"]
    console.print(
        f"[green]恢复完成 / restored: migration {head}, "
        f"{sum(done.facts['row_counts'].values())} rows, {len(done.manifest['files'])} files "
        f"({done.files_placed} written); row counts and audit chain heads match the manifest[/]",
        soft_wrap=True,
        highlight=False,
    )
    if head != done.code_head:
        console.print(
            f"此备份的数据库结构为 {head}，请运行 `openday migrate` 升级到 {done.code_head} / "
            f"the archive's schema is {head}: run `openday migrate` to reach {done.code_head}",
            soft_wrap=True,
            highlight=False,
        )


def _check(archive: Path, settings: Settings) -> None:
    """`openday restore --check`: the archive's checks and its manifest in one line."""
    from workflows.backup import restore as flow
    from workflows.kernel.errors import DomainError

    try:
        manifest = flow.check(
            archive,
            settings.migrate_url(),
            settings.var_dir,
            settings=settings,
        )
    except DomainError as exc:
        console.print(f"[red]错误：{exc.message_zh} / error: {exc.message_en}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc
    console.print(
        f"[green]备份完好 / archive intact[/]: taken {manifest['created_at']}, "
        f"{manifest['backend']}, migration {manifest['migration_head']}, "
        f"{sum(manifest['row_counts'].values())} rows, {len(manifest['files'])} files",
        soft_wrap=True,
        highlight=False,
    )
