"""Parsing an uploaded .docx/.xlsx in a short-lived child process, within time and memory limits."""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from workflows.files.archive_guard import ImportLimits
from workflows.kernel.errors import DomainError, InvalidData

T = TypeVar("T")
_MEMORY_EXIT = 86  # the child's exit status after a MemoryError
_GRACE_SECONDS = 5.0  # after the result or the limit, how long the child may take to exit
# Imported once by the fork server, so a parse's child starts with them loaded.
_PRELOAD = [
    "__main__",
    "workflows.files.isolated",
    "workflows.schedule.tables",
    "workflows.campaign.notice_campaign",
    "workflows.event.invitee_import",
    "openpyxl",
    "docx",
]


def run(limits: ImportLimits, filename: str, function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` (a module-level function) in a child within the limits' parse time
    and memory, its result; parse_seconds 0: here, in this process."""
    if limits.parse_seconds <= 0:
        return function(*args)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(sender, limits, function, args), name="openday-parse", daemon=True
    )
    child.start()
    sender.close()
    try:
        in_time = receiver.poll(limits.parse_seconds)
        outcome = _receive(receiver) if in_time else None
    finally:
        receiver.close()
        child.join(_GRACE_SECONDS if in_time else 0)
        if child.is_alive():
            child.kill()
            child.join()
    if outcome is None:
        raise _over_limit(limits, filename, timed_out=not in_time, exitcode=child.exitcode)
    return _result(outcome)


def _receive(receiver: Connection) -> tuple[str, Any] | None:
    """The child's message, or None when it died before sending one."""
    try:
        message: tuple[str, Any] = receiver.recv()
    except (EOFError, OSError):
        return None
    return message


def _result(outcome: tuple[str, Any]) -> Any:
    """The parse's value, or the refusal it raised, raised again here."""
    kind, value = outcome
    if kind == "ok":
        return value
    if kind == "crashed":
        raise RuntimeError(f"parsing in the child process failed: {value}")
    error_type, code, zh, en, status, details = value
    error = error_type.__new__(error_type)
    DomainError.__init__(error, code, zh, en, status=status, details=details)
    raise error


def _over_limit(
    limits: ImportLimits, filename: str, *, timed_out: bool, exitcode: int | None
) -> InvalidData:
    """The refusal for a child stopped by a limit: out of time (wall clock or CPU), else out
    of memory (a MemoryError, or killed)."""
    if timed_out or exitcode == -signal.SIGXCPU:
        return InvalidData(
            "parse_time_exceeded",
            f"文件“{filename}”解析超过 {limits.parse_seconds:g} 秒上限，未导入任何内容",
            f'reading "{filename}" took longer than the {limits.parse_seconds:g} s limit; '
            "nothing was imported",
            details={"limit_seconds": limits.parse_seconds},
        )
    megabytes = limits.parse_memory_bytes // (1024 * 1024)
    return InvalidData(
        "parse_memory_exceeded",
        f"文件“{filename}”解析所需内存超过 {megabytes} MB 上限，未导入任何内容",
        f'reading "{filename}" needs more than the {megabytes} MB memory limit; '
        "nothing was imported",
        details={"limit_mb": megabytes},
    )


def _child(
    sender: Connection, limits: ImportLimits, function: Callable[..., Any], args: Any
) -> None:
    """In the child: the limits, the parse, its outcome sent back; out of memory exits."""
    memory = _own_size() + limits.parse_memory_bytes  # the parse's own, on top of the parsers'
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = max(1, math.ceil(limits.parse_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        sender.send(("ok", function(*args)))
    except Exception as exc:  # noqa: BLE001 - every outcome goes back to the parent
        if _out_of_memory(exc):
            os._exit(_MEMORY_EXIT)
        if isinstance(exc, DomainError):
            fields = (type(exc), exc.code, exc.message_zh, exc.message_en, exc.status, exc.details)
            sender.send(("refused", fields))
        else:
            sender.send(("crashed", f"{type(exc).__name__}: {exc}"))
    except MemoryError:
        os._exit(_MEMORY_EXIT)
    finally:
        sender.close()


def _own_size() -> int:
    """This process's address space now (bytes; 0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
    except (OSError, StopIteration):
        return 0


def _out_of_memory(exc: BaseException) -> bool:
    """Whether an error came of the memory limit: a MemoryError anywhere in its chain, or
    libxml2's allocation failure, which lxml reports as a parse error ("unknown error" or
    "Memory allocation failed") that the parsers then word as an unreadable file."""
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            return False
        if isinstance(seen, MemoryError):
            return True
        text = str(seen)
        if type(seen).__name__ in ("XMLSyntaxError", "ParseError") and (
            text.startswith("unknown error") or "memory" in text.lower()
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
