"""Enumerate the project's URL routes from the resolver, so a new endpoint cannot slip past the security tests."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name" (seed routes) or the plain URL name
    pattern: str  # the joined route/regex text, for messages
    view: str  # dotted name of the view class or function


def _view_name(callback) -> str:
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
    return f"{view.__module__}.{getattr(view, '__qualname__', view.__class__.__name__)}"


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            child = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), child)
        elif isinstance(entry, URLPattern):
            # Unnamed patterns are keyed by their text (the admin's old-style object_id redirects are unnamed).
            local = entry.name or f"<{prefix}{entry.pattern}>"
            name = f"{namespace}:{local}" if namespace else local
            yield Route(name=name, pattern=prefix + str(entry.pattern), view=_view_name(entry.callback))


def _unique(routes) -> list[Route]:
    seen: dict[str, Route] = {}
    for route in routes:
        seen.setdefault(route.name, route)
    return sorted(seen.values(), key=lambda route: route.name)


def api_routes() -> list[Route]:
    """Every non-admin route, one per URL name (DRF's format-suffix twins share their route's name)."""
    return _unique(route for route in _walk(get_resolver().url_patterns) if not route.name.startswith("admin:"))


def admin_routes() -> list[Route]:
    """Every route of the admin site (``admin:…`` names), including custom admin views."""
    return _unique(route for route in _walk(get_resolver().url_patterns) if route.name.startswith("admin:"))
