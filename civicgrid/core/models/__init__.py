from .audit import AccessLog, AccessLogSeal, AuditChainHead, ChangeLog, ChangeLogSeal
from .base import Audited, BaseModel, ScopedManager, ScopedModel, ScopedQuerySet
from .calendar import CalendarOverride, OfficePeriod

__all__ = [
    "AccessLog",
    "Audited",
    "AccessLogSeal",
    "AuditChainHead",
    "BaseModel",
    "CalendarOverride",
    "ChangeLog",
    "ChangeLogSeal",
    "OfficePeriod",
    "ScopedManager",
    "ScopedModel",
    "ScopedQuerySet",
]
