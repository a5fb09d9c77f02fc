"""Users, roles (function permissions), posts (data scope), agreements and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Permission, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core import scope
from civicgrid.core.models import Audited, BaseModel, ScopedModel
from civicgrid.core.scope import scope_indexes

from .choices import DataScope, UserType


class UserQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = "view"):
        """Users holding a post inside the caller's scope for ``accounts.<action>_user``;
        users with no post yet only for callers whose scope is all data."""
        q = scope.scope_filter(
            user, scope.permission_name(self.model, action), field="area_code", owner_field=None
        )
        if q is None:
            return self.none()
        if not q:
            return self.all()
        return self.filter(pk__in=Post.objects.filter(q).values("user_id"))


class CivicUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(Audited, AbstractUser):
    """A person who signs in: staff (officials, grid workers, handlers), a resident or an API client."""

    display_name = models.CharField(_("name"), max_length=64, blank=True)
    user_type = models.CharField(
        _("user type"), max_length=10, choices=UserType.choices, default=UserType.STAFF
    )

    objects = CivicUserManager()

    audit_exclude = ("password", "last_login")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_staff_user(self) -> bool:
        return self.user_type == UserType.STAFF


class Role(BaseModel):
    """A named set of function permissions. Built-in roles are seeded and kept in sync by code;
    administrators may add their own."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=64)
    description = models.CharField(_("description"), max_length=300, blank=True)
    permissions = models.ManyToManyField(
        Permission, verbose_name=_("permissions"), blank=True, related_name="+"
    )
    default_scope = models.CharField(
        _("default data scope"), max_length=10, choices=DataScope.choices, default=DataScope.SUBTREE
    )
    is_builtin = models.BooleanField(_("built-in"), default=False)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["id"]

    def __str__(self) -> str:
        from .roles import builtin_role_label

        return builtin_role_label(self.code) if self.is_builtin else self.name


class Post(ScopedModel):
    """A user's job: a role held at an area node with a data scope (岗位)."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="posts")
    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.PROTECT, related_name="posts")
    data_scope = models.CharField(_("data scope"), max_length=10, choices=DataScope.choices)
    title = models.CharField(_("title"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "area"], name="accounts_post_unique_role_area")
        ]
        indexes = scope_indexes("acc_post")

    def __str__(self) -> str:
        return f"{self.user} · {self.role} @ {self.area}"


class Agreement(BaseModel):
    """A version of the data-confidentiality agreement (数据保密责任书) staff must accept."""

    version = models.CharField(_("version"), max_length=20, unique=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    is_current = models.BooleanField(_("current"), default=False)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    class Meta:
        verbose_name = _("confidentiality agreement")
        verbose_name_plural = _("confidentiality agreements")
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="accounts_agreement_one_current"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.version})"


class AgreementAcceptance(BaseModel):
    """Who accepted which agreement version, when and from where."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.PROTECT, related_name="acceptances"
    )
    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.PROTECT, related_name="acceptances"
    )
    accepted_at = models.DateTimeField(_("accepted at"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("agreement acceptance")
        verbose_name_plural = _("agreement acceptances")
        constraints = [models.UniqueConstraint(fields=["user", "agreement"], name="accounts_acceptance_once")]

    def __str__(self) -> str:
        return f"{self.user} · {self.agreement.version}"


class ApiToken(BaseModel):
    """A bearer token for an API client. Only a SHA-256 digest of the key is stored."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    audit_exclude = ("digest", "last_used_at")

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
