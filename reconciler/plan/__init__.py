"""Plans: the data model, the pure diff, building from the three views, saved plan files."""
