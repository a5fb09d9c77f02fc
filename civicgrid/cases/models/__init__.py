from .cases import Case, CaseDeadline, CaseEvent, CasePhoto, JointMeeting, SweepMark
from .rules import (
    Category,
    CategoryQuestion,
    DeadlinePolicy,
    Department,
    DepartmentMember,
    TriageRule,
    WorkItem,
)
from .tallies import CaseTally, UnitTally

__all__ = [
    "Case",
    "CaseDeadline",
    "CaseEvent",
    "CaseTally",
    "CasePhoto",
    "Category",
    "CategoryQuestion",
    "DeadlinePolicy",
    "Department",
    "DepartmentMember",
    "JointMeeting",
    "SweepMark",
    "TriageRule",
    "UnitTally",
    "WorkItem",
]
