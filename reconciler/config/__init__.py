"""The desired-state file: its YAML shape, loading with located errors, fmt and export."""
