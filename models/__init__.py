"""Tenants and users."""

from .revoked_token import RevokedEmbedToken
from .tenant import Tenant
from .user import ROLES, User

__all__ = ["ROLES", "RevokedEmbedToken", "Tenant", "User"]
