"""Every table of the service; importing this package registers them all on SQLModel.metadata."""

from models.account import ApiToken, Role, User
from models.audit import TransitionLog
from models.campaign import Campaign
from models.event import Event, EventForm, EventState
from models.feedback import FeedbackItem, FeedbackState
from models.invitee import InvitationMode, Invitee, InviteeCategory, TargetedKind
from models.spot_check import SpotCheck, SpotCheckResult
from models.summary import Attachment, Summary
from models.unit import Unit, UnitKind

__all__ = [
    "ApiToken",
    "Attachment",
    "Campaign",
    "Event",
    "EventForm",
    "EventState",
    "FeedbackItem",
    "FeedbackState",
    "InvitationMode",
    "Invitee",
    "InviteeCategory",
    "Role",
    "SpotCheck",
    "SpotCheckResult",
    "Summary",
    "TargetedKind",
    "TransitionLog",
    "Unit",
    "UnitKind",
    "User",
]
