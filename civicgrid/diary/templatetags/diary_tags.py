"""Template tags of the diary, for other apps' pages (the registry's person page)."""

from django import template

from .. import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def person_diary(context, person, limit: int = 10) -> dict | None:
    """The newest diary records the page's user may see about ``person`` (naming them, listing
    them as attending, or naming their household); None without the diary's view permission."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or person is None or not user.has_perm("diary.view_diaryrecord"):
        return None
    rows, more = selectors.person_records(user, person, limit=limit)
    return {
        "rows": rows,
        "more": more,
        "can_add": user.has_perm("diary.add_diaryrecord"),
    }
