"""Test helpers of event handling, shared by the test suites of every app that makes cases
(imported by tests only, once Django is set up)."""

from __future__ import annotations

import importlib
from datetime import timedelta

from django.apps import apps
from django.utils import timezone

from civicgrid.cases import deadlines, selectors
from civicgrid.cases.choices import DeadlineOutcome
from civicgrid.cases.models import Case, CaseDeadline, Category

#: Areas of the statistics history (``history`` fixture): 角嘴街道, two of its communities, a grid in
#: each, and a grid in another district.
STREET, C1, C2 = "450403005000", "450403005001", "450403005002"
G1, G2, ELSEWHERE = "450403005001001", "450403005002001", "450405001001001"


def seed_rules() -> None:
    """The seeded categories, questions and deadline policies of migration 0002 (a transactional
    test elsewhere flushes every table, migration data included), with the in-process rule caches
    dropped."""
    if not Category.objects.exists():
        importlib.import_module("civicgrid.cases.migrations.0002_seed_rules").seed(apps, None)
    deadlines.clear_policy_cache()
    selectors.clear_rule_cache()


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def overdue_now(case: Case, seconds: int = 30) -> None:
    """Let the running clock of ``case`` fall due a moment ago."""
    due = timezone.now() - timedelta(seconds=seconds)
    Case.objects.filter(pk=case.pk).update(due_at=due, warn_at=due - timedelta(seconds=1))
    CaseDeadline.objects.filter(case=case, outcome=DeadlineOutcome.OPEN).update(due_at=due)
