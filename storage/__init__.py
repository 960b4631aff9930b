"""Storage: models, queries and migrations. Imports nothing of the other layers."""
