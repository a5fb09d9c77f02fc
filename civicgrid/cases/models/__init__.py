from .cases import Case, CaseDeadline, CaseEvent, CasePhoto, JointMeeting
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
    "TriageRule",
    "UnitTally",
    "WorkItem",
]
