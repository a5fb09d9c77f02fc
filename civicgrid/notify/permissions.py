"""Default permissions of the built-in roles over notification addresses: the officials who manage
the staff of their area (``accounts.change_user``) also bind a staff member's WeChat account and
remove their addresses; officials who read the users of their area see the addresses (masked).
Everyone binds and removes their own addresses without a permission (``services.sms_verification_*``,
``services.address_delete``)."""

VIEW = {"notify.view_channeladdress"}
MANAGE = VIEW | {"notify.change_channeladdress"}

ROLE_GRANTS = {
    "city_official": VIEW,
    "district_official": MANAGE,
    "street_official": MANAGE,
    "community_official": VIEW,
}
