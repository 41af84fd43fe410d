"""The declared keys between tables as a graph: the keys between two tables, and shortest paths.

Schema linking connects the tables a question names, the SQL repairs join a table through the ones
between, and the semantic compiler joins a metric's table to its dimensions' tables; all three walk this
graph. Table names match in any case, as DuckDB reads them; the names given back are the declared ones.

>>> from catalog.join_graph import JoinGraph, Key
>>> graph = JoinGraph([Key("book", "author_id", "author", "id"), Key("loan", "book_id", "book", "id")])
>>> graph.keys("author", "book")
[('id', 'author_id')]
>>> graph.path(["author"], "loan")
['author', 'book', 'loan']
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class KeyLike(Protocol):
    """A declared key: ``from_table.from_column`` references ``to_table.to_column``."""

    @property
    def from_table(self) -> str: ...
    @property
    def from_column(self) -> str: ...
    @property
    def to_table(self) -> str: ...
    @property
    def to_column(self) -> str: ...


K = TypeVar("K", bound=KeyLike)


@dataclass(frozen=True)
class Key:
    from_table: str
    from_column: str
    to_table: str
    to_column: str


@dataclass(frozen=True)
class Hop(Generic[K]):
    """One step along a key: forward from the referencing table, or back from the referenced one."""

    key: K
    forward: bool

    @property
    def table(self) -> str:
        return self.key.from_table if self.forward else self.key.to_table

    @property
    def column(self) -> str:
        return self.key.from_column if self.forward else self.key.to_column

    @property
    def to_table(self) -> str:
        return self.key.to_table if self.forward else self.key.from_table

    @property
    def to_column(self) -> str:
        return self.key.to_column if self.forward else self.key.from_column


class JoinGraph(Generic[K]):
    """Tables joined by declared keys; each table's hops in the order the keys were declared."""

    def __init__(self, keys: Iterable[K]):
        self._hops: dict[str, list[Hop[K]]] = {}
        for key in keys:
            self._hops.setdefault(key.from_table.lower(), []).append(Hop(key, forward=True))
            self._hops.setdefault(key.to_table.lower(), []).append(Hop(key, forward=False))

    def hops(self, table: str) -> list[Hop[K]]:
        """The steps out of ``table``, one per key it takes part in (two for a key to itself)."""
        return self._hops.get(table.lower(), [])

    def keys(self, a: str, b: str) -> list[tuple[str, str]]:
        """(column of a, column of b) of every declared key between tables a and b, in declaration order."""
        return [(hop.column, hop.to_column) for hop in self.hops(a) if hop.to_table.lower() == b.lower()]

    def key(self, a: str, b: str) -> tuple[str, str] | None:
        """(column of a, column of b) of the first declared key between tables a and b, if there is one."""
        keys = self.keys(a, b)
        return keys[0] if keys else None

    def path(self, starts: Iterable[str], goal: str, max_hops: int | None = None) -> list[str]:
        """The tables of the shortest chain of keys from one of ``starts`` to ``goal`` (breadth first, keys
        in declaration order breaking ties); [] when there is none within ``max_hops`` keys."""
        goal = goal.lower()
        paths = deque([[start] for start in starts])
        seen = {path[0].lower() for path in paths}
        while paths:
            path = paths.popleft()
            if max_hops is not None and len(path) > max_hops:
                continue
            for hop in self.hops(path[-1]):
                there = hop.to_table
                if there.lower() in seen:
                    continue
                if there.lower() == goal:
                    return [*path, there]
                seen.add(there.lower())
                paths.append([*path, there])
        return []

    def tree(self, base: str, penalty: Callable[[Hop[K]], int]) -> dict[str, tuple[str, Hop[K]]]:
        """Shortest paths from ``base``: table -> (the table before it, the hop from there).

        Fewest keys first; among equally short paths, the smallest sum of ``penalty`` (ties between
        tables broken by name).
        """
        best: dict[str, tuple[int, int]] = {base: (0, 0)}
        tree: dict[str, tuple[str, Hop[K]]] = {}
        queue = [(0, 0, base)]
        while queue:
            hops, cost, table = heapq.heappop(queue)
            if best.get(table, (hops, cost)) < (hops, cost):
                continue
            for hop in self.hops(table):
                reached = (hops + 1, cost + penalty(hop))
                if hop.to_table not in best or reached < best[hop.to_table]:
                    best[hop.to_table] = reached
                    tree[hop.to_table] = (table, hop)
                    heapq.heappush(queue, (*reached, hop.to_table))
        return tree
