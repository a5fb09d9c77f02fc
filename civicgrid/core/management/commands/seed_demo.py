"""Load the demo data: Wuzhou's area tree, demo accounts, the confidentiality agreement, base data,
handling units and cases."""

from django.core.management.base import BaseCommand

from civicgrid.accounts.demo import DEMO_PASSWORD, load_accounts
from civicgrid.areas.demo import load_wuzhou
from civicgrid.cases.demo import generate_cases
from civicgrid.core.audit import STREAMS, seal_pending
from civicgrid.core.context import acting_as
from civicgrid.diary.demo import generate_records
from civicgrid.dynamics.demo import generate_posts
from civicgrid.patrol.demo import generate_tracks
from civicgrid.registry.demo import generate


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    def handle(self, *args, **options):
        with acting_as(None):
            created = load_wuzhou()
            rows = load_accounts()
            base_data = generate()
            cases = generate_cases()
            posts = generate_posts()
            diary = generate_records()
            tracks = generate_tracks()
            for stream in STREAMS:
                seal_pending(stream)
        self.stdout.write(f"Areas created: {created}")
        self.stdout.write("Base data: " + ", ".join(f"{k} {v}" for k, v in base_data.items()))
        self.stdout.write(f"Cases: {cases} new (131 handling units, 220 work items)")
        self.stdout.write(f"Work-dynamics posts: {posts} new")
        self.stdout.write(f"Diary records: {diary} new")
        self.stdout.write(f"Patrol shifts with tracks: {tracks} new")
        self.stdout.write("")
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD})")
        for username, role, area in rows:
            self.stdout.write(f"  {username:<12} {role:<20} {area}")
        self.stdout.write("  gw<grid code> grid_worker          one for each of the other grids")
