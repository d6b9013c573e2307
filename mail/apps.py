from django.apps import AppConfig


class MailConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mail"
    label = "mail"
    verbose_name = "Email channel"

    def ready(self) -> None:
        from mail.outbound import ticket_mail_headers
        from notifications.hooks import email_headers_from

        email_headers_from(ticket_mail_headers)
