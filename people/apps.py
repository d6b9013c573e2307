from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "Customer users (profiles inside each customer's schema)"

    def ready(self) -> None:
        from people.models import CustomerUser
        from sla.hooks import policy_referenced_by

        policy_referenced_by(CustomerUser, "sla_policy", "a user's SLA override")
