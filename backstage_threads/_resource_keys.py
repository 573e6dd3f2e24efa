"""Resource keys, visibility, link actions and the messages subscribers receive.

A key is typed (`ResourceKey[T]`, or a type ``T`` used as its own key) so that
mypy checks the value published under it and the value a lookup returns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "Dropped",
    "Key",
    "LinkAction",
    "Published",
    "ResourceKey",
    "Visibility",
    "check_key",
    "key_name",
]

T = TypeVar("T")
KeyT = TypeVar("KeyT")


class ResourceKey(Generic[T]):
    """A typed name for a resource: ``DB: ResourceKey[sqlite3.Connection] = ResourceKey("db")``.

    Two keys with the same name are the same key. A type may be used as its own
    key too (``context.publish(Config, config)``).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a resource key's name must be a non-empty str, got {name!r}")
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceKey) and other.name == self.name

    def __hash__(self) -> int:
        return hash((ResourceKey, self.name))

    def __repr__(self) -> str:
        return f"ResourceKey({self.name!r})"


#: What a resource is published under: a `ResourceKey[T]` or the type ``T`` itself.
Key = Union[ResourceKey[T], type[T]]  # noqa: UP007 - a generic alias needs Union on 3.11


class Visibility(enum.Enum):
    """Who sees a published resource."""

    SUBTREE = "subtree"  # the publisher and its descendants
    SIBLINGS = "siblings"  # the publisher's parent's subtree: siblings and their subtrees
    SYSTEM = "system"  # every actor of the system


class LinkAction(enum.Enum):
    """What happens to an actor whose linked resource is dropped or replaced."""

    STOP = "stop"  # it stops, with the reason
    FAIL = "fail"  # it fails with ResourceLostError: its supervisor decides
    # It restarts itself (a new instance whose start waits for its needs again),
    # without a failure: nothing goes to the supervisor or counts against its
    # restart limit.
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class Published(Generic[T]):
    """Delivered to a subscriber when the nearest value of ``key`` is (re)published.

    Attributes:
        key: The resource's key.
        value: Its value.
        version: 1 for the first value in its scope, one more for each replacement.
        publisher: The actor that published it.
    """

    key: Key[T]
    value: T
    version: int
    publisher: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class Dropped(Generic[T]):
    """Delivered to a subscriber when ``key`` is no longer visible to it.

    Attributes:
        key: The resource's key.
        version: The version that went away.
        reason: Why (``"publisher stopped (...)"``, ``"publisher restarting"``).
    """

    key: Key[T]
    version: int
    reason: str


def key_name(key: object) -> str:
    """How errors and the status name a key."""
    if isinstance(key, ResourceKey):
        return repr(key.name)
    if isinstance(key, type):
        return f"{key.__module__}.{key.__qualname__}"
    return repr(key)


def check_key(key: KeyT) -> KeyT:
    """``key`` itself, if it is a `ResourceKey` or a type.

    Raises:
        TypeError: For anything else, saying whether it was unhashable.
    """
    if isinstance(key, (ResourceKey, type)):
        return key
    try:
        hash(key)
    except TypeError:
        raise TypeError(
            f"resource key {key!r} is unhashable ({type(key).__name__}); "
            "a key is a ResourceKey or a type"
        ) from None
    raise TypeError(f"a resource key is a ResourceKey or a type, got {key!r}")
