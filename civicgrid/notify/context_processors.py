"""The unread-notification count for the page headers, counted only when a template shows it."""

from django.utils.functional import cached_property

from .selectors import badge, unread_count


class UnreadNotifications:
    def __init__(self, user):
        self.user = user

    @cached_property
    def count(self) -> int:
        return unread_count(self.user)

    @property
    def label(self) -> str:
        return badge(self.count)


def notifications(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": UnreadNotifications(user)}
