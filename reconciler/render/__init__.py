"""Renderers: turn a Plan or an apply result into text, JSON or Markdown. No I/O."""
