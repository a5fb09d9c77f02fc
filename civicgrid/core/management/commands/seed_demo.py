"""Load the demo data: Wuzhou's area tree, demo accounts and the confidentiality agreement."""

from django.core.management.base import BaseCommand

from civicgrid.accounts.demo import DEMO_PASSWORD, load_accounts
from civicgrid.areas.demo import load_wuzhou
from civicgrid.core.audit import STREAMS, seal_pending
from civicgrid.core.context import acting_as
from civicgrid.registry.demo import generate


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    def handle(self, *args, **options):
        with acting_as(None):
            created = load_wuzhou()
            rows = load_accounts()
            base_data = generate()
            for stream in STREAMS:
                seal_pending(stream)
        self.stdout.write(f"Areas created: {created}")
        self.stdout.write("Base data: " + ", ".join(f"{k} {v}" for k, v in base_data.items()))
        self.stdout.write("")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD})")
        for username, role, area in rows:
            self.stdout.write(f"  {username:<12} {role:<20} {area}")
        self.stdout.write("  gw<grid code> grid_worker          one for each of the other grids")
