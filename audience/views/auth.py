from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from audience import security


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


class LoginView(auth_views.LoginView):
    """Django's sign-in, refusing a username after repeated failures from one address."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        ip = _client_ip(request)
        if security.login_blocked(username, ip):
            form = self.get_form()
            minutes = settings.LOGIN_LOCKOUT_SECONDS // 60
            form.add_error(
                None,
                f"Too many failed sign-ins. Wait {minutes} minutes and try again, or reset the password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            security.login_succeeded(username, ip)
        else:
            security.login_failed(username, ip)
        return response
