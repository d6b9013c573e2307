from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Login identities, agents and API tokens"

    def ready(self) -> None:
        from accounts import openapi  # noqa: F401 - registers the OpenAPI auth extension
