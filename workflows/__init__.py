"""Domain logic: state machines, guards, rules and the services that apply them."""
