"""The in-app inbox (站内信): a notification channel delivered into staff accounts."""
