"""Renderers: turn a Plan or an apply result into text, JSON or Markdown. No I/O.

May import: plan, state (lock info), cloud, models, errors; never apply, commands or cli (see
ARCHITECTURE.md, layers).
"""
