"""The offline demo: a local newsroom, the real service, a spike, an alert, a report."""
