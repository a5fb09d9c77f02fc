"""Register Open311 clients and manage their api_keys:

python manage.py open311_client create NAME [--jurisdiction-id ID]   # prints the key once
python manage.py open311_client list
python manage.py open311_client revoke NAME
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from civicgrid.open311.models import Open311Client
from civicgrid.open311.services import CLIENT_TTL, client_create, client_revoke


class Command(BaseCommand):
    help = "Create, list or revoke the Open311 clients allowed to POST service requests."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="register a client and print its api_key (shown once)")
        create.add_argument("name")
        create.add_argument(
            "--jurisdiction-id", default="", help="refuse requests naming another jurisdiction_id"
        )
        sub.add_parser("list", help="list the clients")
        revoke = sub.add_parser("revoke", help="revoke a client's api_key")
        revoke.add_argument("name")

    def handle(self, *args, action, **options):
        return getattr(self, f"do_{action}")(**options)

    def do_create(self, *, name, jurisdiction_id="", **options):
        try:
            client, key = client_create(name=name, jurisdiction_id=jurisdiction_id)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        self.stdout.write(f'Created Open311 client "{client.name}" (id {client.pk}).')
        self.stdout.write(f"api_key: {key}")
        self.stdout.write("Store it now: it is shown only this once (only its SHA-256 digest is kept).")

    def do_list(self, **options):
        clients = list(Open311Client.objects.order_by("name"))
        if not clients:
            self.stdout.write("No Open311 clients.")
            return
        self.stdout.write(f"{'name':30} {'key':14} {'state':8} {'created':17} {'last used':17} jurisdiction")
        for c in clients:
            state = "active" if c.is_active else "revoked"
            self.stdout.write(
                f"{c.name[:30]:30} {c.prefix + '…':14} {state:8} {_when(c.created_at):17} "
                f"{_when(c.last_used_at):17} {c.jurisdiction_id}"
            )

    def do_revoke(self, *, name, **options):
        client = Open311Client.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f'No Open311 client named "{name}".')
        if not client.is_active:
            self.stdout.write(f'Client "{name}" was already revoked.')
            return
        client_revoke(client=client)
        self.stdout.write(
            f'Revoked client "{name}": its api_key is refused '
            f"(by running servers within {int(CLIENT_TTL)} s)."
        )


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"
