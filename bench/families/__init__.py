"""Task families: request and reference types, example building, default metrics."""

from bench.families.base import Family, Request, Response, get_family

__all__ = ["Family", "Request", "Response", "get_family"]
