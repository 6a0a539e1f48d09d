# fieldops: every string a person reads, in English.
# The Indonesian catalogue (id.ftl) must define the same messages (a test checks).

## Navigation and header
nav-label = Main
nav-dashboard = Dashboard
nav-dispatch = Dispatch
nav-attendance = Attendance
nav-extensions = Extensions
role-admin = Admin
role-cs = Customer service
role-sales = Sales
role-technician = Technician
role-customer = Customer
presence-label = Status
presence-set = Set
presence-available = Available
presence-busy = Busy
presence-away = Away
presence-offline = Offline
sign-out = Sign out

## Sign-in
sign-in-title = Sign in
sign-in-lead = Sign in to the fieldops console.
sign-in-email = E-mail
sign-in-password = Password
sign-in-submit = Sign in
sign-in-wrong = The e-mail or password is wrong.
sign-in-throttled = Too many attempts. Wait a moment and try again.
sign-in-inactive = This account is inactive. Ask an admin to restore it.

## Messages
console-home = Dashboard
console-not-staff-title = Not for this account
console-not-staff-detail = The console is for fieldops staff. Customers use the fieldops app or WhatsApp.
console-csrf-title = Request refused
console-csrf-detail = This form has expired or did not come from this console. Go back, reload the page and try again.
console-error-title = Something went wrong
console-error-detail = The server could not finish this. Nothing was changed; try again in a moment.
console-forbidden-title = Not allowed
console-forbidden-detail = Your role may not open this page or make this change.
console-not-found-title = Page not found
console-not-found-detail = There is no such page in the console.
console-check-fields = Please check the marked fields.
console-taken = Already in use.
console-not-a-number = Enter a number.
console-required = Required.
console-seats = { $taken } of { $quota } technicians

## Dashboard
dash-tickets = Tickets
dash-total = Total
dash-urgent = Urgent (open)
dash-visits-today = Today's visits
dash-attendance-today = Attendance today
dash-pending-extensions = Extension requests
dash-pending = Pending
dash-agents = Agents
ticket-status-open = Open
ticket-status-in_progress = In progress
ticket-status-resolved = Resolved
ticket-status-closed = Closed
visit-status-open = Open
visit-status-assigned = Assigned
visit-status-in_progress = In progress
visit-status-done = Done
visit-status-cancelled = Cancelled

## Dispatch board
board-open = Open pool
board-assigned = Assigned
board-in-progress = In progress
board-done-today = Done today
board-empty = Nothing here.
board-emergency = Emergency: needs a technician now
board-on-site = on site
board-return-reason = Reason (e.g. absent)
board-return = Return to pool
board-return-reason-needed = Say why the technician is returned to the pool.
board-cancel = Cancel visit
board-created = Visit “{ $title }” is in the pool.
visit-new = New visit
visit-customer = Customer
visit-customer-pick = Choose a customer
visit-department = Department
visit-title = Title
visit-description = Description
visit-address = Site address
visit-lat = Latitude
visit-lon = Longitude
visit-start = First day
visit-days = Days
visit-quota = Technicians needed
visit-create = Put in the pool

## Attendance
attendance-expected = Expected
attendance-late = Late
attendance-absent = Absent
attendance-present = Present
attendance-empty = No technician is expected on a visit today.
attendance-technician = Technician
attendance-visit = Visit
attendance-status = Status
attendance-check-in = Check-in
attendance-check-out = Check-out
attendance-distance = From site
attendance-geofence = Geofence
attendance-arrived-late = arrived late
attendance-outside = Outside
attendance-inside = Inside
attendance-plot = Sites and check-in positions
attendance-plot-caption = Squares are sites, dots are where technicians checked in; red means outside the geofence.

## Extensions
extensions-empty = No extension request is waiting.
extensions-days = Extra days
extensions-reason = Reason
extensions-asked = Asked
extensions-decision = Decision
extensions-note = Note (optional)
extensions-approve = Approve
extensions-reject = Reject

## Tickets
nav-tickets = Tickets
tickets-search = Search tickets (number, subject, customer)
tickets-status = Status
tickets-any-status = Any status
tickets-priority = Priority
tickets-any-priority = Any priority
tickets-assignee = Assigned to
tickets-anyone = Anyone
tickets-mine = Me
tickets-unassigned = Nobody yet
tickets-filter = Filter
tickets-empty = No ticket matches. Clear the filters to see every ticket you may handle.
tickets-number = Number
tickets-subject = Subject
tickets-category = Category
tickets-created = Opened
tickets-next = Next page
priority-low = Low
priority-normal = Normal
priority-high = High
priority-urgent = Urgent
sla-left = { $time } left
sla-late = late by { $time }
sla-paused = paused: waiting on the customer
sla-stopped = —
author-customer = Customer
author-staff = Staff
author-system = System
ticket-thread = Conversation
ticket-no-messages = No messages yet.
ticket-internal = internal note
ticket-reply = Reply
ticket-internal-note = Internal note (staff only)
ticket-send = Send
ticket-move-open = Reopen
ticket-move-in_progress = Start work
ticket-move-resolved = Mark resolved
ticket-move-closed = Close
ticket-take = Take it
ticket-assign-to = Assign to
ticket-assign = Assign

## Chat
nav-chat = Chat
chat-conversations = Conversations
chat-empty = No conversation yet. Customers start one from the app or WhatsApp.
chat-unread = unread messages
chat-pick = Pick a conversation on the left.
chat-reply = Reply
chat-via-whatsapp = sent over WhatsApp

## Customers
nav-customers = Customers
customers-search = Search by name, phone or e-mail
customers-active = Active
customers-inactive = Deleted (inactive)
customers-empty = No customer matches. Add one with the form below.
customers-name = Name
customers-phone = Phone
customers-city = City
customers-address = Address
customers-since = Since
customers-actions = Actions
customers-edit = Edit
customers-delete = Delete
customers-restore = Restore
customers-new = New customer
customers-edit-title = Edit customer
customers-create = Add customer
customers-save = Save changes

## Users
nav-users = Staff
users-search = Search by name or e-mail
users-role = Role
users-shift = Shift
users-shift-start = Shift starts
users-shift-end = Shift ends
users-inactive = inactive
users-reset-password = Reset password
users-deactivate = Deactivate
users-activate = Reactivate
users-new = New colleague
users-create = Create account
users-temporary-password = { $name }'s temporary password: { $password } — give it to them in person; their sessions have ended.
board-newest-only = Showing the newest 200; narrow the list in the API or finish some first.
board-return-on-site = On site now: check them out and return them
attendance-returned = returned to the pool
ticket-visits = Visits for this ticket
visit-ticket = Ticket (optional)
dash-queue = Waiting for an agent

## Invoices, sent to the customer over WhatsApp
wa-invoice-sent = Hello { $name }, invoice { $number } for { $total } has been issued. See it in the fieldops app, and send a photo of the transfer receipt there once you have paid. Thank you.
wa-credit-note-sent = Hello { $name }, credit note { $number } for { $total } reduces your bill. The details are in the fieldops app.
