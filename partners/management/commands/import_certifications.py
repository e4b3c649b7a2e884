from portal.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Import certifications.csv (all-or-nothing; re-importing identical rows changes nothing)."
    kind = "certifications"
