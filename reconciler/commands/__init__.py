"""One module per subcommand: a click command and a typed function returning an exit code."""
