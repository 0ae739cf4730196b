from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from audience.models import Membership, Notification


def current_account(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"site_name": settings.SITE_NAME}
    return {
        "site_name": settings.SITE_NAME,
        "membership": membership,
        "account": membership.account,
        "can_edit": membership.can_edit,
        "is_account_admin": membership.is_admin,
        "all_memberships": Membership.objects.filter(user=request.user).select_related("account"),
        "unread_notifications": Notification.objects.filter(
            user=request.user, account=membership.account, read_at__isnull=True
        ).count(),
    }
