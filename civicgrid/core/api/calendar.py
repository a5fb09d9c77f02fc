"""Read API of the work calendar: a year's exceptions to the Monday–Friday week, the overrides and
the office hours; and a deadline computed in working time (for clients, and to check the rules)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from civicgrid.core.choices import DaySource
from civicgrid.core.models.calendar import CalendarOverride
from civicgrid.core.workcalendar import CalendarError, get_calendar

#: Largest amounts the deadline endpoint accepts (ten years of working time is already absurd).
MAX_DAYS = 2500
MAX_HOURS = MAX_DAYS * 24


class CalendarYearQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1950, max_value=2100, required=False)


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    is_workday = serializers.BooleanField()
    source = serializers.ChoiceField(choices=DaySource.choices)
    name = serializers.CharField()


class CalendarOverrideSerializer(serializers.ModelSerializer):
    date = serializers.DateField(source="day")

    class Meta:
        model = CalendarOverride
        fields = ["id", "date", "is_workday", "name", "note", "updated_at"]


class CalendarOfficePeriodSerializer(serializers.Serializer):
    start = serializers.TimeField(format="%H:%M")
    end = serializers.TimeField(format="%H:%M")


class CalendarYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    working_days = serializers.IntegerField()
    working_day_seconds = serializers.FloatField()
    office_periods = CalendarOfficePeriodSerializer(many=True)
    exceptions = CalendarDaySerializer(
        many=True, help_text=_("Days whose status differs from Monday–Friday.")
    )
    overrides = CalendarOverrideSerializer(many=True)


class CalendarView(APIView):
    """The work calendar of a year (default: this year). ``exceptions`` lists the days off on
    weekdays and the working days on weekends, each with the rule that decided it."""

    @extend_schema(
        parameters=[OpenApiParameter("year", int, description="1950–2100; default: this year")],
        responses=CalendarYearSerializer,
    )
    def get(self, request):
        query = CalendarYearQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or timezone.localdate().year
        cal = get_calendar()
        days = cal.year_days(year, language=get_language())
        exceptions = [info for info in days if info.is_workday == (info.day.weekday() >= 5)]
        body = {
            "year": year,
            "working_days": sum(1 for info in days if info.is_workday),
            "working_day_seconds": cal.working_day_seconds(),
            "office_periods": [{"start": s, "end": e} for s, e in cal.office_periods()],
            "exceptions": exceptions,
            "overrides": CalendarOverride.objects.filter(day__year=year),
        }
        return Response(CalendarYearSerializer(body).data)


class CalendarDeadlineQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text=_("ISO 8601; default: now."))
    hours = serializers.FloatField(min_value=0, max_value=MAX_HOURS, required=False)
    days = serializers.FloatField(min_value=0, max_value=MAX_DAYS, required=False)

    def validate(self, attrs):
        if ("hours" in attrs) == ("days" in attrs):
            raise serializers.ValidationError(
                {"hours": [_("Give either hours or days of working time, not both.")]}
                if "hours" in attrs
                else {"days": [_("Give either hours or days of working time.")]}
            )
        return attrs


class CalendarDeadlineSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    due = serializers.DateTimeField()
    working_seconds = serializers.FloatField()


class DeadlineView(APIView):
    """When ``hours`` or ``days`` of working time after ``start`` have elapsed."""

    @extend_schema(parameters=[CalendarDeadlineQuerySerializer], responses=CalendarDeadlineSerializer)
    def get(self, request):
        query = CalendarDeadlineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        start = data.get("start") or timezone.now()
        cal = get_calendar()
        seconds = data["hours"] * 3600 if "hours" in data else data["days"] * cal.working_day_seconds()
        try:
            due = cal.add_working_time(start, seconds)
        except CalendarError:
            message = _("The calendar has no working day for years after the start; check its overrides.")
            raise serializers.ValidationError({"hours" if "hours" in data else "days": [message]})
        except ValueError:
            message = _("The deadline would fall outside the calendar.")
            raise serializers.ValidationError({"hours" if "hours" in data else "days": [message]})
        return Response(
            CalendarDeadlineSerializer({"start": start, "due": due, "working_seconds": seconds}).data
        )
