"""Tenants, users and the tenants' embed keys."""

from .embed_key import EmbedKey
from .revoked_token import RevokedEmbedToken
from .tenant import Tenant
from .user import ROLES, User

__all__ = ["ROLES", "EmbedKey", "RevokedEmbedToken", "Tenant", "User"]
