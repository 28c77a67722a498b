"""The event workflow (planned → … → spot-checked): the moves' data, guards and callbacks,
the machine and the service; the invitee list and the summary that hang on an event."""
