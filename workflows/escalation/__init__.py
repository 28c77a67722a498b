"""Escalation: applying fired timers and who gets each level (service), what a batch of timers
shares (batch), daily digests, the overdue list, and notifications owed and sent."""
