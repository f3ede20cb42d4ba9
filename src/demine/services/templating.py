"""The Jinja2 templates of demine's printable pages (``demine/templates/``, shipped as package
data): one environment, autoescaping on, so every value a template shows is HTML-escaped
unless the renderer marks it as markup (:class:`markupsafe.Markup`: the SVG maps and charts,
the style sheets)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, Template, select_autoescape

__all__ = ["render_template", "template", "template_text"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(autoescape=select_autoescape(default=True), keep_trailing_newline=True)


def template_text(name: str) -> str:
    """The text of ``demine/templates/NAME`` (a template, or a style sheet it takes)."""
    return resources.files("demine").joinpath(f"templates/{name}").read_text("utf-8")


@lru_cache(maxsize=16)
def template(name: str) -> Template:
    """The compiled template ``demine/templates/NAME``."""
    return _environment().from_string(template_text(name))


def render_template(name: str, context: dict[str, Any]) -> str:
    """``demine/templates/NAME`` rendered with ``context`` (escaped unless Markup)."""
    return template(name).render(context)
