"""What the tests run against: local newsrooms, an SMTP sink, a Slack hook, CLI runners."""
