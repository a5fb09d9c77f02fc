"""Default permissions of the built-in roles over work-dynamics posts (工作动态).

Community and street officials write, publish, pin and withdraw the posts of their own community
or street (the services insist on the post's area being the node of one of their posts, so a
street official does not edit a community's post). District and city officials oversee: they read
the posts in their scope and may withdraw one. Residents read published posts in the portal
without a permission (see ``selectors.posts_for_resident``)."""

AUTHOR = {f"dynamics.{a}_post" for a in ("view", "add", "change", "delete", "publish", "withdraw", "pin")}
OVERSEE = {"dynamics.view_post", "dynamics.withdraw_post"}

ROLE_GRANTS = {
    "community_official": AUTHOR,
    "street_official": AUTHOR,
    "district_official": OVERSEE,
    "city_official": OVERSEE,
}
