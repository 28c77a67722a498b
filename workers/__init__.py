"""Background work: the dramatiq broker, actors and the scheduler."""
