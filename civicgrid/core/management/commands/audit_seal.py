"""Seal pending audit entries now (the periodic task does this every minute)."""

from django.core.management.base import BaseCommand

from civicgrid.core.audit import STREAMS, seal_pending


class Command(BaseCommand):
    help = "Extend the audit hash chains with entries not sealed yet."

    def handle(self, *args, **options):
        for stream in STREAMS:
            self.stdout.write(f"{stream}: sealed {seal_pending(stream)} entries")
