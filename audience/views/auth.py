from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from audience import security


class LoginView(auth_views.LoginView):
    """Django's sign-in, throttled per address, per username and address, and per username (see
    audience/security.py: a browser that signed in as the username before is not locked out)."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        if security.login_blocked(request, username):
            form = self.get_form()
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            form.add_error(
                None,
                f"Too many failed sign-ins. Wait {minutes} minutes and try again, or reset the password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            security.login_succeeded(request, username)
            security.remember_device(request, response, username)
        else:
            security.login_failed(request, username)
        return response
