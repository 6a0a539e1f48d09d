# Problems (adapters): what the HTTP handlers and the console answer when a request is refused.
# Keys: problem-<subject>-<what>.

## Filters and query parameters

problem-filter-text-too-long = must be at most { $max } characters
problem-filter-date-format = must be a date, YYYY-MM-DD
problem-filter-date-out-of-range = is out of range
problem-filter-from-after-to = must not be after `to`
problem-filter-span-too-long = spans more than three years
problem-filter-extension-status = must be pending, approved or rejected
problem-filter-visit-status = must be open, assigned, in_progress, done or cancelled
problem-filter-near = must be lat,lon in range
problem-filter-within-km = must be between 0 and 20000
problem-filter-assigned-to = must be a user id, `me` or `unassigned`
problem-filter-kpi-subject = must be technician, agent, department or all
problem-filter-kpi-id-required = is required for this subject
problem-filter-kpi-period = must be day, week or month
problem-filter-csv-separator = must be comma or semicolon

## Request fields

problem-request-required = is required
problem-request-time-format = must be an RFC 3339 time with an offset
problem-request-sha256-format = must be 64 lowercase hex digits
problem-request-language = must be one of: id, en, or null
problem-request-password-wrong = is not correct

## Chat

problem-chat-client-id-format = must be up to 100 printable ASCII characters
problem-chat-customer-unknown = names no customer

## Idempotency keys

problem-idempotency-key-format = must be 1 to 255 visible ASCII characters
problem-idempotency-key-reused = this Idempotency-Key was used with a different request
problem-idempotency-in-progress = a request with this Idempotency-Key is still being processed

## Uploads (tus)

problem-tus-title-version = Unsupported tus version
problem-tus-version-detail = send Tus-Resumable: { $version }
problem-tus-header-not-integer = { $header } must be a non-negative integer
problem-tus-metadata-not-base64 = { $key } is not base64 UTF-8
problem-tus-metadata-bad-key = the key { $key } holds a space or a control character
problem-tus-metadata-duplicate = { $key } is given twice
problem-tus-defer-length = Upload-Defer-Length is not supported
problem-tus-length-zero = Upload-Length must be positive
problem-tus-metadata-too-long = is too long
problem-tus-sha256-required = must be the SHA-256 of the bytes, 64 lowercase hex digits
problem-tus-length-mismatch = the server holds bytes with this SHA-256 and another length
problem-tus-title-media-type = Expected application/offset+octet-stream
problem-tus-offset-mismatch = the upload is at offset { $offset }; send HEAD and resume from there
problem-tus-chunk-incomplete = the chunk arrived incomplete
problem-tus-title-too-large = Request body too large
problem-tus-chunk-past-length = the chunk goes past Upload-Length
problem-tus-moved-on = another request moved this upload on; send HEAD and resume from there

## Sync sessions

problem-sync-signed-out = signed out; sign in again
problem-sync-account-changed = the account changed; reconnect
problem-sync-frame-too-large = { $error }; a frame is at most { $max } bytes
problem-sync-hello-too-large = a session opens with a Hello of at most { $max } bytes, not { $announced }
problem-sync-hello-malformed = a session opens with a Hello in one binary message
problem-sync-hello-timeout = no Hello within { $seconds } s
problem-sync-batch-not-frames = the body is not length-prefixed frames
problem-sync-bad-frame = bad frame: { $error }
problem-sync-batch-empty = the batch is empty

## The console's event socket

problem-socket-message-too-large = a console message is at most { $max } bytes
problem-socket-not-a-frame = not a WebSocket frame

## WhatsApp webhook

problem-whatsapp-not-a-payload = not a WhatsApp webhook payload

## Console

problem-console-form-too-large = form too large
problem-console-unavailable = unavailable
problem-console-render-failed = rendering failed
problem-console-minutes-whole = must be a whole number of minutes

## Journey builder

problem-journey-builder-not-a-number = { $value } is not a number
problem-journey-builder-not-a-count = { $value } is not a count
problem-journey-builder-kind-unknown = { $kind } is not a question kind
problem-journey-builder-slug = { $value } must be 1 to 40 characters of a-z, 0-9, _ and -
problem-journey-builder-date = { $value } must be a date, YYYY-MM-DD

## A phone command that cannot be executed (fieldops_sync checks)
problem-command-field = `{ $field }` { $problem }
problem-command-latitude = must be a latitude, from -90 to 90
problem-command-longitude = must be a longitude, from -180 to 180
problem-command-accuracy = must be a finite number, 0 or more
problem-command-extra-days = must be from 1 to 30 days
problem-command-score = must be from 1 to 5
problem-command-token = must be 1 to 512 ASCII characters
problem-command-too-long = is too long
problem-command-one-line = must be one line
problem-command-category = must be a category code (a-z, 0-9, _)
problem-command-amount = must be more than zero and at most 10^15
problem-command-sha256 = must be 64 lowercase hexadecimal digits
problem-command-version = must be 1 or more (versions start at 1)
problem-command-too-many-answers = has more answers than a journey has questions
