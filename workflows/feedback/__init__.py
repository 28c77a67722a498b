"""Opinions (意见建议): the feedback-item machine with its timed overdue, and the
extensions a unit asks for before an answer falls due."""
