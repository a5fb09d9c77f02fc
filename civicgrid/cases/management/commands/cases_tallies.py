"""``manage.py cases_tallies --check | --rebuild``: compare the monthly statistics tallies with a
fresh count of the cases, or replace them with one (after loading cases around the services)."""

from django.core.management.base import BaseCommand, CommandError

from civicgrid.cases import tallies


class Command(BaseCommand):
    help = "Check the monthly statistics tallies against the cases, or rebuild them."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--check", action="store_true", help="list differences; exit 1 if any")
        group.add_argument("--rebuild", action="store_true", help="count every tally afresh")

    def handle(self, *args, check=False, rebuild=False, **options):
        if rebuild:
            written = tallies.rebuild()
            self.stdout.write(
                f"{written['case_tallies']} case tallies and {written['unit_tallies']} unit tallies written."
            )
            return
        differences = tallies.check()
        for line in differences[:50]:
            self.stdout.write(line)
        if differences:
            raise CommandError(f"{len(differences)} tallies differ from the cases; run --rebuild.")
        self.stdout.write("The tallies agree with the cases.")
