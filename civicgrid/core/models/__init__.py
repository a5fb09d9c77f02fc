from .audit import AccessLog, AccessLogSeal, AuditChainHead, ChangeLog, ChangeLogSeal
from .base import Audited, BaseModel, ScopedManager, ScopedModel, ScopedQuerySet

__all__ = [
    "AccessLog",
    "Audited",
    "AccessLogSeal",
    "AuditChainHead",
    "BaseModel",
    "ChangeLog",
    "ChangeLogSeal",
    "ScopedManager",
    "ScopedModel",
    "ScopedQuerySet",
]
