"""Every kind of entry the audit log holds, named once. Readers filter on these (``audit show``, exports)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    SYSTEM_INIT = "system.init"
    ACCOUNT_USER_ADD = "account.user.add"
    ACCOUNT_USER_DISABLE = "account.user.disable"
    ACCOUNT_USER_ENABLE = "account.user.enable"
    ACCOUNT_KEY_ADD = "account.key.add"
    ACCOUNT_KEY_REVOKE = "account.key.revoke"
    ACCOUNT_PASSWORD_CHANGE = "account.password.change"
    ACCOUNT_PASSWORD_FAILED = "account.password.failed"
    ACCOUNT_SIGN_IN = "account.sign_in"
    ACCOUNT_SIGN_IN_FAILED = "account.sign_in.failed"
    ACCOUNT_SIGN_OUT = "account.sign_out"
    CAMERA_ADD = "camera.add"
    CAMERA_DISABLE = "camera.disable"
    CAMERA_ENABLE = "camera.enable"
    CAMERA_REMOVE = "camera.remove"
    CASE_CREATE = "case.create"
    CASE_AUTHORISE = "case.authorise"
    CASE_RECORDING_WINDOW = "case.recording_window"
    CASE_ACTIVATE = "case.activate"
    CASE_CLOSE = "case.close"
    CASE_EXPIRE = "case.expire"
    CASE_ASSIGN = "case.assign"
    CASE_UNASSIGN = "case.unassign"
    IDENTITY_ENROL = "identity.enrol"
    IDENTITY_REMOVE = "identity.remove"  # a person taken off a case's watchlist
    IDENTITY_PHOTO_REMOVE = "identity.photo.remove"  # one enrolment photo (its templates) deleted
    SEARCH_IDENTIFY = "search.identify"
    SEARCH_REFUSED = "search.refused"
    SCAN_START = "scan.start"
    SCAN_END = "scan.end"
    WATCH_START = "watch.start"
    WATCH_END = "watch.end"
    CLUSTER_START = "cluster.start"  # a deployment started on a Ray cluster (every camera an active case allows)
    CLUSTER_STOP = "cluster.stop"
    JOB_SUBMIT = "job.submit"
    JOB_CANCEL = "job.cancel"
    SIGHTING_CREATE = "sighting.create"
    SIGHTING_CONFIRM = "sighting.confirm"
    SIGHTING_REJECT = "sighting.reject"
    EXPORT_PACKAGE = "export.package"
    EXPORT_REPORT = "export.report"
    RETENTION_RUN = "retention.run"
    SIGNIN_ENROL = "signin.enrol"  # a person enrolled for face sign-in (purpose "authentication")
    SIGNIN_REMOVE = "signin.remove"  # their templates deleted
    SIGNIN_CAPTURES_EXPORT = "signin.captures_export"  # kept captures of a person's attempts written out, unsealed
    SIGNIN_ATTEMPT = "signin.attempt"  # one attempt: accepted or not, the score, liveness, or refused as locked
    CALIBRATION_SET = "calibration.set"  # a site calibration put in force: thresholds before and after, the data's hash
    CALIBRATION_WITHDRAW = "calibration.withdraw"  # back to the shipped calibration
    LIBRARY_INDEX = "library.index"
    LIBRARY_PERSON_NAME = "library.person.name"
    LIBRARY_PERSON_MERGE = "library.person.merge"
    LIBRARY_PERSON_SPLIT = "library.person.split"
    LIBRARY_PERSON_FORGET = "library.person.forget"
    LIBRARY_FACE_MOVE = "library.face.move"
    LIBRARY_FACE_NOT = "library.face.not"
