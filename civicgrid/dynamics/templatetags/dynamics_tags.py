"""``{% latest_dynamics %}``: the newest work-dynamics posts of the signed-in resident's community
and street, for the portal's home page."""

from django import template

from .. import selectors

register = template.Library()


@register.inclusion_tag("dynamics/_home.html", takes_context=True)
def latest_dynamics(context, count: int = 3):
    request = context.get("request")
    user = getattr(request, "user", None)
    posts = list(selectors.posts_for_resident(user)[:count]) if user is not None else []
    return {"posts": posts}
