"""Tenants and users."""

from .tenant import Tenant
from .user import ROLES, User

__all__ = ["ROLES", "Tenant", "User"]
