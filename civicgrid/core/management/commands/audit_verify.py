"""Verify the audit hash chains; exits non-zero and names the first broken link if any."""

from django.core.management.base import BaseCommand, CommandError

from civicgrid.core.audit import STREAMS, seal_pending, verify_chain


class Command(BaseCommand):
    help = "Check the change-log and access-log hash chains and report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--seal", action="store_true", help="seal pending entries before verifying")

    def handle(self, *args, seal=False, **options):
        broken = []
        for stream in STREAMS:
            if seal:
                seal_pending(stream)
            result = verify_chain(stream)
            if result.ok:
                self.stdout.write(f"{stream}: OK, {result.checked} entries verified")
            elif result.broken_seq is not None:
                broken.append(stream)
                self.stdout.write(
                    f"{stream}: BROKEN at link {result.broken_seq} (entry {result.entry_id}): "
                    f"{result.reason}; "
                    f"{result.checked} entries before it verified"
                )
            else:
                broken.append(stream)
                self.stdout.write(f"{stream}: {result.reason}")
        if broken:
            raise CommandError("audit chain verification failed: " + ", ".join(broken))
