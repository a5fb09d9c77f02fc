"""Registry models: base data, bulk import/export jobs, annual verification campaigns."""

from .base_data import (
    Building,
    Compound,
    Facility,
    FacilityCategory,
    House,
    Household,
    Organisation,
    Person,
    PersonEvent,
    PersonTag,
    Shop,
    Tag,
)
from .jobs import ExportJob, ImportJob
from .verification import VerificationCampaign, VerificationCheck

__all__ = [
    "Building",
    "Compound",
    "ExportJob",
    "Facility",
    "FacilityCategory",
    "House",
    "Household",
    "ImportJob",
    "Organisation",
    "Person",
    "PersonEvent",
    "PersonTag",
    "Shop",
    "Tag",
    "VerificationCampaign",
    "VerificationCheck",
]
