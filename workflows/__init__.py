"""Domain logic: state machines, guards, rules and the services that apply them."""

# Audit rows are sealed into their hash chain when flushed, wherever they are written: the
# session hook lives in workflows.audit, so importing any workflow installs it.
from workflows.kernel import audit as _audit  # noqa: E402,F401
