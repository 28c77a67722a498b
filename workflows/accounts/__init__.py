"""Accounts and who they are: passwords, tokens and account management (service), the
sign-in throttle, and the responsible units with their contacts."""
