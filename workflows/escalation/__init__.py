"""Escalation: applying fired timers and who gets each level (service), daily digests,
the overdue list, and notifications owed and sent."""
