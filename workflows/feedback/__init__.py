"""Opinions (意见建议): the feedback-item machine with its timed overdue, and the
extensions a unit asks for before an answer falls due."""

from workflows.feedback import tally as tally  # registers the opinion tally's flush listener
