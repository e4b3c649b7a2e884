"""Install the program's calendar and global numbers (DESIGN §2–§6) as the one Program row."""

from django.db import migrations


def install(apps, schema_editor):
    Program = apps.get_model("portal", "Program")
    Program.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
