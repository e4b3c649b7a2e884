from deals.imports import import_orders
from portal.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Import orders.csv (all-or-nothing; re-importing identical rows changes nothing)."
    kind = "orders"
    importer = staticmethod(import_orders)
