# Problems (api): titles and the answers every API request may get.
# Keys: problem-<subject>-<what>. The Indonesian file defines the same messages.

## Titles, one per kind of problem
problem-title-bad-request = Malformed request
problem-title-validation = Invalid request fields
problem-title-unauthorized = Authentication required
problem-title-forbidden = Not allowed for this account
problem-title-not-found = Not found
problem-title-conflict = Conflict
problem-title-unprocessable = Request cannot be processed
problem-title-payload-too-large = Request body too large
problem-title-unsupported-media-type = Expected application/json
problem-title-unavailable = Service unavailable
problem-title-upgrade-required = This endpoint speaks WebSocket
problem-title-too-many-requests = Too many attempts
problem-title-too-many-connections = Too many open connections
problem-title-internal = Internal server error
problem-title-method-not-allowed = Method not allowed

## Details every route may give
problem-payload-too-large = the request body is larger than this server accepts
problem-unsupported-media-type = send the body as application/json
problem-upgrade-required = connect with a WebSocket client
problem-unavailable = the service is briefly unavailable; try again shortly
problem-forbidden = not allowed for this account
problem-not-found = { $what } not found
problem-body-not-json = the body is not valid JSON
problem-query-malformed = the query string is malformed
problem-page-limit = must be between 1 and 200
problem-page-cursor = is not a cursor from this API

## A field of the body
problem-field-required = is required
problem-field-unknown = is not a field of this request
problem-field-not-accepted = `{ $value }` is not accepted; expected one of: { $expected }
problem-field-wrong-type = must be { $expected }, not { $got }
json-got-text = text { $value }
json-got-number = the number { $value }
json-got-object = an object
json-got-list = a list
json-expected-unsigned = a whole number, 0 or more
json-expected-integer = a whole number
json-expected-number = a number
json-expected-text = text
json-expected-boolean = true or false
json-expected-list = a list
json-expected-object = an object
problem-text-blank = must not be empty
problem-text-too-long = must be at most { $max } characters
problem-text-control = must not contain control characters
problem-text-invisible = must not contain invisible formatting characters (bidi overrides, zero-width)

## Signing in and tokens
problem-auth-no-token = missing bearer token
problem-auth-token-invalid = invalid or expired token
problem-auth-inactive = account is not active
problem-auth-session-ended = session has ended
problem-auth-bad-credentials = invalid e-mail or password
problem-auth-refresh-unknown = unknown refresh token
problem-auth-refresh-expired = refresh token expired
problem-auth-refresh-reused = refresh token already used; session revoked
problem-auth-webhook-signature = invalid X-Hub-Signature-256

## What a not-found problem names
thing-action = action
thing-assignment = assignment
thing-blob = file
thing-blob-bytes = file contents
thing-call = call
thing-conversation = conversation
thing-customer = customer
thing-department = department
thing-extension = extension
thing-invoice = invoice
thing-journey = journey form
thing-payment = payment
thing-pdf = PDF
thing-photo = photo
thing-photo-bytes = photo contents
thing-rating = rating
thing-request = request
thing-resource = resource
thing-route = route
thing-shift = shift
thing-thumbnail = thumbnail
thing-ticket = ticket
thing-upload = upload
thing-user = user
thing-visit = visit
thing-rating-request = rating request
thing-webhook = webhook

## Idempotency
problem-idempotency-retry-in-progress = a retry of this request with the same Idempotency-Key is being processed

## Uniqueness
problem-duplicate = { $field } is already in use

## Sockets
problem-socket-too-many-account = this account holds too many open connections; close one
problem-socket-too-many-address = too many connections from this address have not yet signed in

## Sign-in throttle
problem-auth-throttled = too many failed sign-ins; try again in { $wait }
problem-auth-throttled-seconds = { $secs } s
problem-auth-throttled-minutes = { $minutes } min
