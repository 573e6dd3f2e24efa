"""`ResourceContext`: the resource methods of `ActorContext` (publish, lookup, need...).

A mixin of `ActorContext` kept in its own module: the cell's resource layer
(``_cell/_resourcing``) implements the private methods it calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._resource_keys import LinkAction, ResourceKey, Visibility, check_key
from ._validate import check_timeout

__all__ = ["ResourceContext"]

T = TypeVar("T")


class ResourceContext:
    """Scoped resources, as an actor sees them (see README, Resources)."""

    __slots__ = ()

    if TYPE_CHECKING:

        def _publish(self, key: object, value: object, visibility: Visibility) -> int: ...
        def _lookup(self, key: object) -> Any: ...
        def _need(self, key: object, timeout: float | None) -> Any: ...
        def _subscribe(self, key: object) -> None: ...
        def _unsubscribe(self, key: object) -> bool: ...
        def _link(
            self,
            key: object,
            on_drop: LinkAction,
            on_replace: LinkAction | None,
            timeout: float | None,
        ) -> None: ...

    @overload
    def publish(self, key: ResourceKey[T], value: T, *, visibility: Visibility = ...) -> int: ...
    @overload
    def publish(self, key: type[T], value: T, *, visibility: Visibility = ...) -> int: ...
    def publish(self, key: Any, value: Any, *, visibility: Visibility = Visibility.SUBTREE) -> int:
        """Publish ``value`` under ``key``; return its version (1, then one more per replacement).

        ``visibility`` says who sees it: this actor's subtree (the default), its
        parent's subtree (`Visibility.SIBLINGS`) or every actor
        (`Visibility.SYSTEM`). Publishing again in the same scope replaces
        the value. It is dropped when this actor stops, and withdrawn (to be
        replaced by the next incarnation) when it restarts.

        Raises:
            TypeError: If ``key`` is not a `ResourceKey` or a type (naming an
                unhashable one), ``value`` is None, or ``visibility`` is not a
                `Visibility`.
            RuntimeError: If called from outside this actor's own hooks.
        """
        key = check_key(key)
        if value is None:
            raise TypeError(
                f"cannot publish None under {key!r}: lookup() means 'not published' by None"
            )
        if not isinstance(visibility, Visibility):
            raise TypeError(f"visibility must be a Visibility member, got {visibility!r}")
        return self._publish(key, value, visibility)

    @overload
    def lookup(self, key: ResourceKey[T]) -> T | None: ...
    @overload
    def lookup(self, key: type[T]) -> T | None: ...
    def lookup(self, key: Any) -> Any:
        """The nearest value of ``key`` up the tree (this actor's scope first), or None."""
        return self._lookup(check_key(key))

    @overload
    def need(self, key: ResourceKey[T], *, timeout: float | None = None) -> T: ...
    @overload
    def need(self, key: type[T], *, timeout: float | None = None) -> T: ...
    def need(self, key: Any, *, timeout: float | None = None) -> Any:
        """In ``on_start``: the value of ``key``, or defer the start until it is published.

        If ``key`` is not visible yet, ``on_start`` is abandoned at this call
        and run again, from the top, once it is (so call ``need`` before
        anything with side effects). Meanwhile the actor is Initializing and
        its messages wait; it holds no worker. After ``timeout`` seconds
        (default: the class's ``needs_timeout``; None waits for ever) it fails
        to its supervisor with `ResourceTimeoutError`.

        Raises:
            RuntimeError: Outside ``on_start`` (use `lookup` there).
        """
        return self._need(check_key(key), check_timeout(timeout))

    def subscribe(self, key: ResourceKey[Any] | type[Any]) -> None:
        """Receive `Published(key, value, version, publisher)` for the current value
        (if any) and every later one visible here, in order, and `Dropped(key, ...)`
        when none is visible any more; through the mailbox, like any message.

        Raises:
            ValueError: If this actor already subscribes to ``key``.
            TypeError: If ``key`` is not a `ResourceKey` or a type.
            RuntimeError: If called from outside this actor's own hooks.
        """
        self._subscribe(check_key(key))

    def unsubscribe(self, key: ResourceKey[Any] | type[Any]) -> bool:
        """Stop the messages of `subscribe`; False if there was no subscription."""
        return self._unsubscribe(check_key(key))

    def link(
        self,
        key: ResourceKey[Any] | type[Any],
        *,
        on_drop: LinkAction = LinkAction.STOP,
        on_replace: LinkAction | None = None,
        timeout: float | None = None,
    ) -> None:
        """Tie this actor's life to the value of ``key`` visible here now (or the first
        one to appear).

        When it is dropped (its publisher stopped) this actor is stopped
        (``on_drop=LinkAction.STOP``, the default) or failed with
        `ResourceLostError` so that its supervisor decides (``LinkAction.FAIL``;
        the default strategy restarts it). With ``on_replace`` set, the same
        happens when it is replaced by a new version, or withdrawn because its
        publisher restarts; without it, the link follows the new version. If no
        value is visible within ``timeout`` seconds (None: wait for ever),
        this actor fails with `ResourceTimeoutError` naming the key. The link
        fires once; a restarted actor links again in its ``on_start``.

        Raises:
            ValueError: If this actor already links to ``key``.
            TypeError: If ``key`` or an action has a bad type.
            RuntimeError: If called from outside this actor's own hooks.
        """
        key = check_key(key)
        for name, action in (("on_drop", on_drop), ("on_replace", on_replace)):
            if not isinstance(action, LinkAction) and not (name == "on_replace" and action is None):
                raise TypeError(f"{name} must be a LinkAction member, got {action!r}")
        self._link(key, on_drop, on_replace, check_timeout(timeout))
