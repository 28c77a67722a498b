"""What citizens meet without signing in: registration, messages to registrants,
personal-data protection, the human check, public rate limits and opinion receipts."""
