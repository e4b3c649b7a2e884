from partners.imports import import_partners
from portal.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Import partners.csv (all-or-nothing; re-importing identical rows changes nothing)."
    kind = "partners"
    importer = staticmethod(import_partners)
