"""The diary in the grid worker's phone app (``/m/diary/``): my records, and the visit-record form.
A record is queued in the phone's outbox (``static/mobile/app.js``) with an idempotency key made
when it was written, and posted here when there is signal; a replayed key answers 200 with the
record the first attempt made.

So that households and people can be found without signal, the form carries the directory of the
worker's own grid (names, household numbers and addresses only: no document or phone numbers); other
users search the registry online."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from civicgrid.areas.models import Area
from civicgrid.areas.selectors import grid_index
from civicgrid.core import scope
from civicgrid.core.mobile_views import MobilePageMixin, _ApiView, _clean_key

from . import selectors, services
from .choices import MEETING_KINDS, MOOD_KINDS, SEVERITY_KINDS, Mood, RecordKind, Severity
from .forms import SEPARATORS
from .models import DiaryRecord

#: Most households and people of the worker's grid carried for searching without signal.
DIRECTORY_HOUSEHOLDS = 1500
DIRECTORY_PEOPLE = 3000


def _strings() -> dict:
    return {
        "diary": _("Visit record"),
        "writeSummary": _("Write what happened."),
        "chooseKind": _("Choose the kind of record."),
        "queued": _("Saved on this phone; it is sent as soon as there is signal."),
        "household": _("household"),
        "search": _("Name, initials or household number"),
        "searching": _("Searching…"),
        "none": _("Nothing found."),
        "offlineSearch": _("No signal: only your grid's households and people can be found."),
        "remove": _("Remove"),
        "located": _("Location recorded (±%(m)s m)."),
        "noGeo": _("No location: the record belongs to the household's or your grid."),
    }


def directory(user) -> dict | None:
    """The households and people of the grid ``user`` is the grid worker of, for searching
    without signal (None for other users, or when the grid is too large to carry)."""
    from civicgrid.registry.models import Household, Person

    grid = Area.objects.filter(grid_worker=user).first()
    if grid is None:
        return None
    households = list(
        Household.objects.visible_to(user, "view")
        .filter(area=grid, is_active=True)
        .select_related("head", "house")
        .order_by("number", "id")[: DIRECTORY_HOUSEHOLDS + 1]
    )
    people = list(
        Person.objects.visible_to(user, "view")
        .filter(area=grid, status="active")
        .only("id", "name", "name_initials", "household_id", "address", "area_code")
        .order_by("name", "id")[: DIRECTORY_PEOPLE + 1]
    )
    if len(households) > DIRECTORY_HOUSEHOLDS or len(people) > DIRECTORY_PEOPLE:
        return None
    return {
        "households": [
            [
                h.pk,
                " · ".join(p for p in (h.number, h.head.name if h.head_id else "") if p) or f"#{h.pk}",
                h.house.address if h.house_id else "",
            ]
            for h in households
        ],
        "people": [[p.pk, p.name, p.name_initials, p.household_id, p.address] for p in people],
    }


class MobileDiaryListView(MobilePageMixin, TemplateView):
    """我的民情日记: the worker's newest records (and, above them, what still waits on the phone)."""

    template_name = "diary/mobile_list.html"
    required_perms = ("diary.add_diaryrecord",)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["records"] = selectors.my_records(self.request.user, limit=50)
        return ctx


class MobileDiaryFormView(MobilePageMixin, TemplateView):
    """走访记录: kind, household or person, what happened, photos, location; queued on the phone."""

    template_name = "diary/mobile_form.html"
    required_perms = ("diary.add_diaryrecord",)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["app_config"]["diary"] = {
            "apiUrl": reverse("diary_mobile:api_records"),
            "listUrl": reverse("diary_mobile:list"),
            "lookupUrl": reverse("diary:lookup"),
            "meetingKinds": sorted(MEETING_KINDS),
            "severityKinds": sorted(SEVERITY_KINDS),
            "moodKinds": sorted(MOOD_KINDS),
            "directory": directory(user),
            "strings": _strings(),
        }
        ctx.update(kinds=RecordKind.choices, moods=Mood.choices, severities=Severity.choices)
        return ctx


def _id_list(raw, field: str) -> list[int]:
    ids = []
    for part in filter(None, SEPARATORS.split(str(raw or ""))):
        if not part.isdigit():
            raise ValidationError({field: _("%(value)s is not an id.") % {"value": part}})
        ids.append(int(part))
    return ids


def _phone_area(user, *, lat, lng, households: list[int], people: list[int]) -> Area | None:
    """Where a record from the phone happened: the grid of the household or person visited, else
    the grid of the phone's location when the worker may record there, else the worker's own grid
    (a location near a grid's edge may fall into the next grid). None: the service decides."""
    from civicgrid.registry.models import Household, Person

    for model, ids in ((Household, households), (Person, people)):
        if ids:
            found = model.objects.visible_to(user, "view").filter(pk=ids[0]).select_related("area").first()
            if found is not None:
                return found.area
    try:
        point = (float(lat), float(lng)) if lat not in (None, "") and lng not in (None, "") else None
    except (TypeError, ValueError):
        point = None
    if point is not None:
        grid_id = grid_index().locate(*point)
        grid = Area.objects.filter(pk=grid_id).first() if grid_id is not None else None
        if grid is not None and scope.covers_area(user, "diary.add_diaryrecord", grid.scope_code):
            return grid
    return Area.objects.filter(grid_worker=user).first()


class DiaryRecordApiView(_ApiView):
    """POST /m/diary/api/records/ (multipart): key, kind, summary, content, occurred_at (ISO 8601,
    the phone's time when written), lat, lng, households, people, attendees (ids, comma-separated),
    attendee_names, mood, severity, follow_up (1/0), follow_up_note, photos. 201 with the new
    record; 200 with the same record when the key was seen."""

    def post(self, request):
        user = request.user
        data = request.POST
        key = _clean_key(data.get("key"))
        existing = selectors.record_by_key(user, key)
        if existing is not None:
            return self._answer(existing, created=False)
        households = _id_list(data.get("households"), "households")
        people = _id_list(data.get("people"), "people")
        photos = request.FILES.getlist("photos")
        record, created = services.record_create(
            actor=user,
            kind=data.get("kind", ""),
            summary=data.get("summary", ""),
            content=data.get("content", ""),
            occurred_at=data.get("occurred_at") or None,
            area=_phone_area(
                user, lat=data.get("lat"), lng=data.get("lng"), households=households, people=people
            ),
            lat=data.get("lat") or None,
            lng=data.get("lng") or None,
            place=data.get("place", ""),
            mood=data.get("mood", ""),
            severity=data.get("severity", ""),
            follow_up=str(data.get("follow_up", "")).lower() in ("1", "true", "on"),
            follow_up_note=data.get("follow_up_note", ""),
            attendee_names=data.get("attendee_names", ""),
            households=households,
            people=people,
            attendees=_id_list(data.get("attendees"), "attendees"),
            photos=photos,
            idempotency_key=key,
        )
        return self._answer(record, created=created)

    @staticmethod
    def _answer(record: DiaryRecord, *, created: bool) -> JsonResponse:
        label = f"{record.get_kind_display()}: {record.summary[:30]}"
        body = {
            "id": record.pk,
            "number": record.pk,
            "created": created,
            "url": reverse("diary:detail", args=[record.pk]),
            "detail": (_("Recorded: %(record)s.") if created else _("Already recorded: %(record)s."))
            % {"record": label},
        }
        return JsonResponse(body, status=201 if created else 200)
