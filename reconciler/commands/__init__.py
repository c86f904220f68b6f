"""One module per subcommand: a click command and a typed function returning an exit code.

The wiring layer: loads the desired file, opens the backend and the client, calls plan/apply,
and writes what the renderers return. May import every package but cli (see ARCHITECTURE.md,
layers).
"""
