"""The provider's default policy: exactly one exists at all times (sla.md), from the start."""

from django.db import migrations

STANDARD_TARGETS = {
    "P1": {"first_response": 60, "resolution": 240},
    "P2": {"first_response": 120, "resolution": 480},
    "P3": {"first_response": 240, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 2880},
}


def create_default(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    if SlaPolicy.objects.filter(is_default=True).exists():
        return
    policy = SlaPolicy.objects.filter(name="Standard").first()
    if policy is None:
        SlaPolicy.objects.create(name="Standard", targets=STANDARD_TARGETS, warning_percent=80, is_default=True)
    else:
        policy.is_default = True
        policy.save(update_fields=["is_default"])


class Migration(migrations.Migration):
    dependencies = [("sla", "0002_timers")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
