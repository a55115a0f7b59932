"""Tenants, users, the tenants' embed keys, and alerts, reports and their deliveries."""

from .alerts import (
    AlertFiring,
    AlertRule,
    Delivery,
    DeliveryAttempt,
    DemoMail,
    JobSlot,
    ReportSchedule,
    ReportSend,
)
from .embed_key import EmbedKey
from .revoked_token import RevokedEmbedToken
from .tenant import Tenant
from .user import ROLES, User

__all__ = [
    "ROLES",
    "AlertFiring",
    "AlertRule",
    "Delivery",
    "DeliveryAttempt",
    "DemoMail",
    "EmbedKey",
    "JobSlot",
    "ReportSchedule",
    "ReportSend",
    "RevokedEmbedToken",
    "Tenant",
    "User",
]
