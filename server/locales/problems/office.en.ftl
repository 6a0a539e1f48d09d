# Problems (office): what the API, the console and sync answer when a request is refused.
# Keys: problem-<subject>-<what>. The Indonesian file defines the same messages.


## Invoices
problem-invoice-too-many-lines = at most { $max } lines
problem-invoice-total-too-large = the total is too large
problem-money-negative = must not be negative
problem-money-zero = must be more than zero
problem-money-too-large = is too large
problem-money-malformed = must be a number with at most three decimals
problem-invoice-tax-number = must be the 17 digits of the tax invoice
problem-invoice-no-visits = name at least one done visit
problem-invoice-too-many-visits = at most { $max } visits
problem-invoice-visit-unknown = names no visit
problem-invoice-visit-not-done = is not done yet; only done visits are invoiced
problem-invoice-visit-other-customer = belongs to another customer than the first visit
problem-invoice-visit-invoiced = is already on another invoice
problem-invoice-visits-different-tickets = the visits belong to different tickets
problem-invoice-lines-invalid = invalid
problem-invoice-visits-required = required
problem-invoice-visit-taken = a visit is already on another invoice
problem-invoice-not-sent = only an invoice the customer has been sent is corrected by a credit note
problem-invoice-locked = the invoice is { $status }; only a draft is edited (a sent one is corrected by a credit note)
problem-invoice-version-mismatch = the invoice changed since you loaded it; reload and edit again
problem-invoice-no-lines = an invoice needs at least one line and a total above zero
problem-invoice-approver-is-drafter = whoever drafted or edited an invoice does not approve it; ask another sales approver
problem-invoice-nothing-due = nothing is due on this invoice
problem-invoice-payments-unchecked = a payment waits to be checked; verify or reject it before writing off the rest
problem-invoice-credit-exceeds = credit notes may not exceed the invoice: { $credited } of { $total } is already credited
problem-invoice-cannot-become = the invoice is { $status }; it cannot become { $to }
problem-invoice-pdf-not-approved = the invoice is { $status }; only an approved one is sent

## Payments
problem-payment-amount-positive = must be more than zero
problem-payment-amount-over-due = is more than the { $open } still open (due, less payments being checked)
problem-payment-proof-format = must be a SHA-256: 64 hex digits
problem-payment-proof-not-uploaded = names no file you uploaded; upload the receipt first
problem-payment-proof-required = attach a photo of the transfer receipt
problem-payment-reference-required = give the bank reference or attach the receipt
problem-payment-exists = a payment with this id already exists
problem-payment-checked = this payment was already { $status }
problem-payment-exceeds-due = this payment is more than is still due; reject it, or correct the invoice first

## Ratings
problem-rating-score-range = must be 1 to 5
problem-rating-link-invalid = this rating link is not valid
problem-rating-already-rated = this was already rated
problem-rating-link-expired = this rating link has expired

## Accounts
problem-sign-in-account-inactive = this account is inactive; ask CS to restore it
problem-phone-code-throttled = too many verification codes asked; try again in { $minutes } min
problem-registration-code-wrong = is wrong, expired or used; ask for a new code
problem-customer-merge-self = must be another customer
problem-customer-merge-unknown = names no customer
problem-customer-merged-already = this customer was merged already
problem-customer-merge-target-merged = was itself merged into another customer
problem-customer-both-have-accounts = both customers have an app account; one customer may have only one
problem-department-lead-not-staff = must be a staff member
problem-staff-customer-role = customers register through /api/v1/auth/register
problem-staff-customer-role-change = customer accounts cannot change role
problem-staff-last-admin = the last active admin cannot be demoted
problem-staff-deactivate-self = you cannot deactivate your own account
problem-staff-own-password = change your own password with POST /api/v1/me/password
problem-staff-unknown-departments = unknown departments: { $ids }

## Settings
problem-settings-timezone = must be an IANA time zone such as Asia/Jakarta
problem-settings-working-days = must be weekdays 1 (Monday) to 7 (Sunday), at least one
problem-settings-time-format = must be HH:MM
problem-settings-day-end-order = must be after day_start
problem-settings-holiday-format = must be a date, YYYY-MM-DD
problem-settings-response-range = must be 1 to 525600
problem-settings-resolution-range = must be 1 to 525600 and not less than the response target
problem-settings-rating-delay = must be 0 to 10080 (a week)
problem-settings-template-name = must be a template name: lowercase letters, digits and _
problem-settings-template-language = must be a language code such as id or en_US

## Alerts
problem-alert-not-open = no open alert with this id

## Registering in the app
problem-register-customer-inactive = the customer record of this phone number is inactive; ask CS to restore it
