from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core.scope import DataScope as _Scope


class DataScope(models.TextChoices):
    ALL = _Scope.ALL, _("All data")
    SUBTREE = _Scope.SUBTREE, _("This area and below")
    NODE = _Scope.NODE, _("This area only")
    OWN = _Scope.OWN, _("Own records only")


class UserType(models.TextChoices):
    STAFF = "staff", _("Staff")
    RESIDENT = "resident", _("Resident")
    CLIENT = "client", _("API client")
