"""The admin home's "needs action" panel, filled by the apps that own each kind of work.

The kernel cannot read the apps' tables; each app registers its items from its ``AppConfig.ready()``. An item
is one count (one query) with the admin page that works it: the panel lists the registered items in ``order``,
those with work first, and says when there is nothing to do.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StaffAction:
    key: str
    label: str  # what the count counts, translated (a lazy string)
    count: Callable[[], int]  # one bounded query
    url: Callable[[], str]  # the admin page that lists exactly those
    urgent: bool = False  # shown in red when not zero (past a target, failing)
    order: int = 100
    permission: str = ""  # the model permission needed to see it ("app.view_model"); empty: every staff user


_actions: dict[str, StaffAction] = {}


def staff_action_register(action: StaffAction) -> None:
    """Add ``action`` to the admin home (registering the same key again replaces it)."""
    _actions[action.key] = action


def staff_actions(user) -> list[dict]:
    """Each registered item ``user`` may see with its count: items with work first, then in ``order``."""
    items = []
    for action in sorted(_actions.values(), key=lambda a: (a.order, a.key)):
        if action.permission and not user.has_perm(action.permission):
            continue
        items.append({"key": action.key, "label": action.label, "count": action.count(), "url": action.url(),
                      "urgent": action.urgent})  # fmt: skip
    return sorted(items, key=lambda item: item["count"] == 0)
