"""Experience replay: a uniform ring buffer and proportional prioritized replay.

A live system sees each outcome once; replaying stored ones lets a learner take more
than one update per real step. :class:`ReplayBuffer` keeps the last ``capacity`` items
and samples them uniformly. :class:`PrioritizedReplay` is proportional prioritized
experience replay (Schaul, Quan, Antonoglou & Silver, "Prioritized Experience Replay",
ICLR 2016): item ``i`` is drawn with probability ``P(i) = p_i^alpha / sum_k p_k^alpha``
with ``p_i = |priority_i| + eps``, so transitions the learner predicts worst are replayed
most, and importance-sampling weights ``(N P(i))^-beta`` correct the bias this
introduces. The ``p^alpha`` values live in a sum tree kept in one flat list (leaves at
``[capacity, 2 capacity)``, node ``k`` holding the sum of ``2k`` and ``2k + 1``), which
makes both a priority update and a draw O(log n) with no objects per node. As in the
paper a batch is drawn stratified: one draw from each of ``n`` equal slices of the total.

The injected :class:`~krystal.kernel.rng.Rng` is shared with its owner and is not part of
``get_state()``: the owner saves and restores it once.
"""

import math

from .rng import Rng


def _check_capacity(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError("capacity: expected an integer >= 1, got " + repr(capacity))
    return capacity


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError("n: expected an integer >= 0, got " + repr(n))


class ReplayBuffer:
    """Ring buffer of the last ``capacity`` items, sampled uniformly with replacement.

    >>> buffer = ReplayBuffer(3, Rng(0))
    >>> for item in range(5):
    ...     buffer.add(item)
    >>> buffer.items(), len(buffer)
    ([2, 3, 4], 3)
    >>> all(x in (2, 3, 4) for x in buffer.sample(10))
    True
    """

    __slots__ = ("_items", "_start", "capacity", "rng")

    def __init__(self, capacity: int, rng: Rng) -> None:
        self.capacity = _check_capacity(capacity)
        self.rng = rng
        self._items: list = []  # type: ignore[type-arg]
        self._start = 0  # physical slot of the oldest item once the ring is full

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: object) -> None:
        """Append ``item``; when full, it replaces the oldest one."""
        if len(self._items) < self.capacity:
            self._items.append(item)
        else:
            self._items[self._start] = item
            self._start = (self._start + 1) % self.capacity

    def sample(self, n: int) -> list:  # type: ignore[type-arg]
        """Return ``n`` items drawn uniformly with replacement."""
        _check_count(n)
        size = len(self._items)
        if size == 0 and n > 0:
            raise ValueError("sample: the buffer is empty; add() items first")
        items, start, randint = self._items, self._start, self.rng.randint
        return [items[(start + randint(0, size - 1)) % size] for _ in range(n)]

    def items(self) -> list:  # type: ignore[type-arg]
        """Return the stored items, oldest first."""
        return self._items[self._start :] + self._items[: self._start]

    def clear(self) -> None:
        """Remove every item."""
        self._items = []
        self._start = 0

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return capacity and items (oldest first); the items must be JSON-friendly."""
        return {"capacity": self.capacity, "items": self.items()}

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.capacity = _check_capacity(int(state["capacity"]))
        self._items = list(state["items"])[-self.capacity :]
        self._start = 0


class PrioritizedReplay:
    """Proportional prioritized replay over a flat sum tree (Schaul et al., 2016).

    Indices returned by :meth:`sample` are storage slots; pass them back to
    :meth:`update` with the new priorities (typically ``|TD error|``). IS weights are
    normalised by the largest in the batch, so the largest is 1.

    >>> replay = PrioritizedReplay(4, Rng(0), alpha=1.0)
    >>> replay.add("rare", priority=1.0)
    >>> replay.add("often", priority=9.0)
    >>> indices, items, weights = replay.sample(1000)
    >>> items.count("often") > 850, max(weights)
    (True, 1.0)
    """

    __slots__ = (
        "_items",
        "_max_priority",
        "_next",
        "_tree",
        "alpha",
        "beta",
        "capacity",
        "eps",
        "rng",
    )

    def __init__(
        self, capacity: int, rng: Rng, alpha: float = 0.6, beta: float = 0.4, eps: float = 1e-6
    ) -> None:
        self.capacity = _check_capacity(capacity)
        if not (math.isfinite(alpha) and alpha >= 0.0):
            raise ValueError("alpha: expected a finite number >= 0, got " + repr(alpha))
        if not (math.isfinite(beta) and 0.0 <= beta <= 1.0):
            raise ValueError("beta: expected a number in [0, 1], got " + repr(beta))
        if not (math.isfinite(eps) and eps > 0.0):
            raise ValueError("eps: expected a finite number > 0, got " + repr(eps))
        self.rng = rng
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.eps = float(eps)
        self._tree = [0.0] * (2 * self.capacity)
        self._items: list = []  # type: ignore[type-arg]
        self._next = 0
        self._max_priority = 1.0

    def __len__(self) -> int:
        return len(self._items)

    def total(self) -> float:
        """Return the sum of ``(priority + eps) ** alpha`` over the stored items."""
        return self._tree[1]  # the root; with capacity 1 it is also the only leaf

    def _check_priority(self, priority: float) -> float:
        if not (math.isfinite(priority) and priority >= 0.0):
            raise ValueError("priority: expected a finite number >= 0, got " + repr(priority))
        return float(priority)

    def _set_leaf(self, slot: int, priority: float) -> None:
        tree = self._tree
        node = slot + self.capacity
        tree[node] = (priority + self.eps) ** self.alpha
        node >>= 1
        while node >= 1:  # recompute (not add deltas), so sums never drift
            tree[node] = tree[2 * node] + tree[2 * node + 1]
            node >>= 1

    def add(self, item: object, priority: float | None = None) -> None:
        """Store ``item``; without a priority it gets the largest seen so far."""
        if priority is None:
            priority = self._max_priority
        priority = self._check_priority(priority)
        if priority > self._max_priority:
            self._max_priority = priority
        slot = self._next
        if slot < len(self._items):
            self._items[slot] = item
        else:
            self._items.append(item)
        self._set_leaf(slot, priority)
        self._next = (slot + 1) % self.capacity

    def _find(self, value: float) -> int:
        tree, capacity, node = self._tree, self.capacity, 1
        while node < capacity:
            left = 2 * node
            # Going left when the right subtree is empty guards against rounding that
            # would otherwise land on an empty slot.
            if value < tree[left] or tree[left + 1] <= 0.0:
                node = left
            else:
                value -= tree[left]
                node = left + 1
        return node - capacity

    def sample(self, n: int) -> tuple[list[int], list, list[float]]:  # type: ignore[type-arg]
        """Draw ``n`` items in proportion to priority; return (indices, items, IS weights)."""
        _check_count(n)
        if not self._items and n > 0:
            raise ValueError("sample: the buffer is empty; add() items first")
        if n == 0:
            return [], [], []
        total = self.total()
        segment = total / n
        indices = [self._find(segment * (k + self.rng.random())) for k in range(n)]
        size = len(self._items)
        leaves = [self._tree[slot + self.capacity] for slot in indices]
        weights = [(size * p / total) ** -self.beta for p in leaves]
        top = max(weights)
        return indices, [self._items[slot] for slot in indices], [w / top for w in weights]

    def update(self, indices: list[int], priorities: list[float]) -> None:
        """Set new priorities for sampled slots; all are checked before any changes."""
        if len(indices) != len(priorities):
            raise ValueError(
                "priorities: expected one per index ("
                + repr(len(indices))
                + "), got "
                + repr(len(priorities))
            )
        size = len(self._items)
        for slot in indices:
            if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < size:
                raise ValueError(
                    "indices: expected slots in [0, " + repr(size) + "), got " + repr(slot)
                )
        checked = [self._check_priority(p) for p in priorities]
        for k in range(len(checked)):
            slot, priority = indices[k], checked[k]
            if priority > self._max_priority:
                self._max_priority = priority
            self._set_leaf(slot, priority)

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return settings, items (by slot) and leaf priorities as JSON-friendly data."""
        return {
            "capacity": self.capacity,
            "alpha": self.alpha,
            "beta": self.beta,
            "eps": self.eps,
            "items": list(self._items),
            "leaves": self._tree[self.capacity : self.capacity + len(self._items)],
            "next": self._next,
            "max_priority": self._max_priority,
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        capacity = _check_capacity(int(state["capacity"]))
        self.capacity = capacity
        self.alpha = float(state["alpha"])
        self.beta = float(state["beta"])
        self.eps = float(state["eps"])
        self._items = list(state["items"])
        tree = [0.0] * (2 * capacity)
        for slot, leaf in enumerate(state["leaves"]):
            tree[capacity + slot] = float(leaf)
        for node in range(capacity - 1, 0, -1):
            tree[node] = tree[2 * node] + tree[2 * node + 1]
        self._tree = tree
        self._next = int(state["next"])
        self._max_priority = float(state["max_priority"])
