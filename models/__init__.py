"""Every table of the service; importing this package registers them all on SQLModel.metadata."""

from models.account import ApiToken, PasswordHistory, RecoveryCode, Role, User
from models.audit import AuditAnchor, TransitionLog
from models.backup_run import BackupRun
from models.bulletin import Bulletin
from models.campaign import Campaign, CampaignUnit
from models.cancellation import CancellationRequest, CancellationState
from models.change_log import ChangeLog
from models.correction import CorrectionRequest, CorrectionState
from models.district import DEFAULT_DISTRICT, District, DistrictGrant
from models.event import Event, EventForm, EventState, LeaderPost
from models.extension import ExtensionRequest, ExtensionState
from models.feedback import OPEN_FEEDBACK_STATES, FeedbackItem, FeedbackState
from models.filing import EventFiling, FilingKind, FilingState
from models.identity import IdentityLink, IdentitySignIn
from models.inbox import InboxMessage
from models.invitee import InvitationMode, Invitee, InviteeCategory, TargetedKind
from models.notification import Notification, NotificationState
from models.outbox import OutboxMessage
from models.rectification import Rectification, RectificationFile, RectificationState
from models.registration import ACTIVE_STATES, Registration, RegistrationState
from models.reply import AppealState, OpinionReply, Rating
from models.sample import SampleDraw
from models.spot_check import SpotCheck, SpotCheckResult
from models.summary import Attachment, Summary
from models.tally import EventTally, OpinionTally
from models.timer import Timer, TimerState
from models.transfer import OPEN_TRANSFER_STATES, FeedbackTransfer, TransferState
from models.unit import Unit, UnitKind, UnitName
from models.visit import SiteVisit, VisitPhoto
from models.work_calendar import CalendarDay, CalendarYear

__all__ = [
    "DEFAULT_DISTRICT",
    "District",
    "DistrictGrant",
    "ACTIVE_STATES",
    "OPEN_FEEDBACK_STATES",
    "EventTally",
    "OpinionTally",
    "Rectification",
    "RectificationFile",
    "RectificationState",
    "AppealState",
    "OpinionReply",
    "Rating",
    "Registration",
    "RegistrationState",
    "CalendarDay",
    "CalendarYear",
    "Notification",
    "NotificationState",
    "OutboxMessage",
    "Timer",
    "TimerState",
    "ApiToken",
    "PasswordHistory",
    "RecoveryCode",
    "IdentityLink",
    "IdentitySignIn",
    "Attachment",
    "AuditAnchor",
    "BackupRun",
    "Bulletin",
    "Campaign",
    "CampaignUnit",
    "CancellationRequest",
    "EventFiling",
    "FilingKind",
    "FilingState",
    "CancellationState",
    "ChangeLog",
    "CorrectionRequest",
    "CorrectionState",
    "ExtensionRequest",
    "ExtensionState",
    "SiteVisit",
    "VisitPhoto",
    "Event",
    "EventForm",
    "EventState",
    "LeaderPost",
    "FeedbackItem",
    "FeedbackTransfer",
    "OPEN_TRANSFER_STATES",
    "TransferState",
    "FeedbackState",
    "InboxMessage",
    "InvitationMode",
    "Invitee",
    "InviteeCategory",
    "Role",
    "SpotCheck",
    "SpotCheckResult",
    "SampleDraw",
    "Summary",
    "TargetedKind",
    "TransitionLog",
    "Unit",
    "UnitKind",
    "UnitName",
    "User",
]
