"""calsync's state in Azure Table Storage: mappings, subscriptions, cursors, conflicts, room holds."""
