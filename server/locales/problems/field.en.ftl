# Problems (field): what the API, the console and sync answer when a request is refused.
# Keys: problem-<subject>-<what>. The Indonesian file defines the same messages.


## Visits
problem-visit-cancelled = the visit was cancelled
problem-visit-done = the visit is already done
problem-visit-not-held = you do not hold this visit
problem-visit-date-format = must be a date as YYYY-MM-DD
problem-visit-date-range = must be a date as YYYY-MM-DD between 2000 and 2100
problem-visit-ticket-unknown = no such ticket (give its id or its number, e.g. TKT-000123)
problem-visit-ticket-other-customer = the ticket belongs to another customer
problem-visit-start-past = is in the past; visits start today or later (an admin may backfill with force)
problem-visit-planned-days-range = must be between 1 and 366
problem-visit-quota-range = must be between 1 and 100
problem-visit-customer-unknown = no such customer
problem-visit-customer-inactive = the customer is inactive
problem-visit-department-unknown = no such department
problem-visit-claimed-reschedule = { $count } technician(s) hold this visit; changing the schedule or site needs an admin's force
problem-visit-claimed-cancel = { $count } technician(s) hold this visit; cancelling needs an admin's force
problem-visit-quota-below-claims = { $count } technicians hold this visit; the quota cannot go below that
problem-visit-still-on-site = { $count } technician(s) are still checked in; they check out first
problem-visit-never-attended = nobody has checked in and out on this visit yet
problem-visit-not-done = only a done visit can be reopened
problem-visit-invoiced = the visit is on an invoice; void the invoice (or correct it with a credit note) first

## Claims and assignments
problem-claim-returned = CS returned you from this visit; ask CS before you take it again
problem-claim-rescheduled = the visit was rescheduled meanwhile; look again and retry
problem-claim-already-held = you already hold this visit
problem-claim-schedule-conflict = you already hold "{ $title }" ({ $visit }) on some of these days
problem-claim-quota-full = all { $quota } technician seats of this visit are taken
problem-claim-checked-in = you have checked in on this visit; ask customer service to release it
problem-assignment-not-active = the assignment is no longer active
problem-assignment-on-site = the technician is checked in on site; return them with `force` and a reason, which checks them out

## Attendance
problem-attendance-lat-range = must be between -90 and 90
problem-attendance-lon-range = must be between -180 and 180
problem-attendance-accuracy-range = must be between 0 and 100000 metres
problem-attendance-device-time = is not a plausible time
problem-attendance-already-checked-in = you are already checked in; check out first
problem-attendance-not-checked-in = you are not checked in on this visit

## Extensions
problem-extension-days-range = extra_days must be between 1 and 30
problem-extension-pending = you already have a request waiting for a decision
problem-extension-decided = the request was already { $status }
problem-extension-max-days = a visit is planned for at most { $max } days
problem-extension-decided-meanwhile = the request was decided meanwhile
thing-extension-request = extension request

## Journey forms: drafts and publishing
problem-journey-draft-title = needs a title
problem-journey-draft-nodes = holds at most { $max } nodes
problem-journey-stale = the draft changed meanwhile; reload it
problem-journey-department-unknown = names no department
problem-journey-no-draft = this journey has no draft to publish; save one first
problem-journey-not-published = this journey has no published version

## Journey forms: what is wrong with a definition
problem-journey-definition-text = must be non-blank, one line, within 500 characters, in both languages
problem-journey-definition-node-count = must hold 1 to { $max } nodes
problem-journey-definition-duplicate-id = the id { $id } is used twice
problem-journey-definition-unknown-node = names no node { $id }
problem-journey-definition-backward-jump = jumps back to { $id }; jumps only go to later nodes
problem-journey-definition-not-a-question = { $id } is not a question
problem-journey-definition-falls-off = is the last node: a question must lead to an end
problem-journey-definition-unreachable = no path from the start reaches it
problem-journey-definition-later-question = tests { $id }, which comes later: conditions test this question or earlier ones
problem-journey-definition-test-does-not-fit = the test `{ $test }` does not fit a { $kind } question
problem-journey-definition-unknown-choice = names no choice { $id }
problem-journey-definition-condition-shape = groups must not be empty, nest at most { $depth } deep and hold at most { $size } parts
problem-journey-definition-category = must be a category code (a-z, 0-9, _)
problem-journey-limit-rules = a question holds at most 20 rules
problem-journey-limit-choices = a choice question offers 1 to 50 choices
problem-journey-limit-multi = min ≤ max ≤ the number of choices, and max ≥ 1
problem-journey-limit-text = max_chars must be within 1..=5000
problem-journey-limit-number = min and max must be finite, min ≤ max, with a whole number between them when only whole numbers are taken
problem-journey-limit-date = earliest must not be after latest
problem-journey-limit-image = max_count within 1..=10, max_bytes within 1 byte..=10 MiB
problem-journey-limit-finite = the value must be a finite number
problem-journey-limit-test-choices = a test names at most 50 choices

## Journey forms: submitted answers
problem-journey-answers-count = holds at most { $max } answers
problem-journey-answer-too-large = is larger than any question allows
problem-journey-started-at = must be when the form was started, not in the future
problem-journey-retired = this version of the form was retired before the form was started (or more than 14 days ago); start it again
problem-journey-photo-not-uploaded = photo { $hash } was not uploaded
problem-journey-photo-too-large = photo { $hash } is larger than { $limit } bytes
problem-journey-answers-incomplete = do not reach the end of the form
problem-journey-answer-required = is required
problem-journey-answer-not-on-path = is not asked on this path
problem-journey-answer-unknown-question = is no question of this journey
problem-journey-answer-wrong-kind = takes a { $kind } answer
problem-journey-answer-unknown-choice = has no choice { $choice }
problem-journey-answer-duplicate-choice = names a choice twice
problem-journey-answer-too-few = needs at least { $min }
problem-journey-answer-too-many = takes at most { $max }
problem-journey-answer-text = must be non-blank text within the length, without control characters
problem-journey-answer-out-of-range = is outside the accepted range
problem-journey-answer-date-out-of-range = is outside the accepted dates

## Calls
problem-call-push-platform = must be fcm or apns_voip
problem-call-push-token = must be 1 to 4096 characters without spaces

## Photos and uploaded files
problem-photo-not-an-image = the bytes are not a JPEG, PNG or WebP image, nor a PDF
problem-photo-too-many-pixels = the image is { $width }×{ $height } pixels; at most { $max } pixels are accepted
problem-photo-corrupt = the image is damaged or incomplete
problem-photo-corrupt-pdf = the PDF is damaged or incomplete
problem-photo-hash-mismatch = the bytes do not have the SHA-256 claimed when the upload was created

## Values checked at the edge
problem-email-invalid = must be a valid e-mail address
problem-phone-format = must be a phone number, e.g. +6281234567890
problem-phone-invalid = is not a valid phone number
problem-password-too-short = must be at least 8 characters
problem-password-too-long = must be at most 128 characters
problem-geo-lat-range = lat must be between -90 and 90
problem-geo-lon-range = lon must be between -180 and 180

## Sync commands
problem-sync-command-out-of-order = a later command from this device was already executed
problem-sync-command-taken = { $field } is already in use
problem-sync-command-unavailable = temporarily unavailable; retry later
problem-sync-command-conversation-required = `conversation_id` is required for staff

## Sync sessions
problem-sync-session-hello-first = the first message must be Hello
problem-sync-session-version = unsupported protocol version; update the app
problem-sync-session-token-expired = the access token expired; refresh it
problem-sync-session-retry = try again later
problem-sync-session-already-open = the session is already open
problem-sync-session-failed = the server failed; retry later

## Stored texts: read in each reader's language
stored-release-deactivated = account deactivated
