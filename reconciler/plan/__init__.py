"""Plans: the data model, the pure diff, building from the three views, saved plan files.

``diff`` implements the semantics table (see ARCHITECTURE.md, semantics table) as a pure
function, in phases, with ``walk`` running the table over each kind of each instance;
``builder`` does the listing and online-client I/O. May import: cloud, models, errors,
schemadoc; never state, apply, render or commands (see ARCHITECTURE.md, layers).
"""
