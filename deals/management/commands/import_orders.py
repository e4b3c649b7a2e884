from portal.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Import orders.csv (all-or-nothing; re-importing identical rows changes nothing)."
    kind = "orders"
