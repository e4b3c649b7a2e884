from portal.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Import partners.csv (all-or-nothing; re-importing identical rows changes nothing)."
    kind = "partners"
