# Problems (helpdesk): what the API, the console and sync answer when a request is refused.
# Keys: problem-<subject>-<what>. The Indonesian file defines the same messages.


## Tickets
problem-ticket-department-unknown = names no department
problem-ticket-assignee-not-member = must be an active staff member of the ticket's department
problem-ticket-category-unknown = must be one of { $categories }
problem-ticket-customer-required = is required
problem-ticket-id-not-uuid = must be a UUID
problem-ticket-customer-unknown = names no customer
problem-ticket-customer-inactive = the customer is inactive (deleted); restore the record first
problem-ticket-department-staff-only = is chosen by staff
problem-ticket-exists = a ticket or document with this id already exists
problem-ticket-sha256-format = must be 64 lowercase hex digits
problem-ticket-image-not-uploaded = names no image you uploaded: upload it first (POST /api/v1/uploads)
problem-ticket-not-an-image = is not an image: a ticket takes JPEG, PNG or WebP photos
problem-ticket-image-too-large = is larger than a ticket takes ({ $size } bytes, at most { $max })
problem-ticket-closed = the ticket is closed
problem-ticket-attachments-full = the ticket already holds { $max } images, the most it takes
problem-ticket-invalid-transition = a { $from } ticket cannot become { $to }
problem-ticket-stale = the ticket changed meanwhile; reload it

## Shifts
problem-shift-time-format = must be HH:MM
problem-shift-customer = customers have no shift
problem-shift-same-start-end = must differ from start
problem-shift-start-and-end = give both start and end, or neither

## SLA explanation (shown with a ticket's deadlines)
problem-sla-explanation = { $priority } priority: first response within { $response } and resolution within { $resolution } { $counted }, counted from { $start }
problem-sla-around-the-clock = around the clock
problem-sla-business-time = of business time ({ $calendar })
problem-sla-holidays = { $count } holiday(s) excluded
problem-sla-escalated = escalated at { $at } after a missed deadline, so the deadlines are this priority's, counted from the escalation
problem-sla-paused = clocks paused { $count } time(s) for { $duration } in all while waiting on the customer
problem-sla-waiting = paused since { $since } (waiting on the customer), so no deadline runs now
problem-sla-hours = { $hours }h
problem-sla-minutes = { $minutes }m
problem-sla-hours-minutes = { $hours }h{ $minutes }m

## Stored texts: saved as catalogue references, read in each reader's language
stored-assign-manual = manual: chosen by { $name }
stored-assign-round-robin-first = round-robin: 1 of { $pool } available agent(s) in the department within shift; least recently assigned (never assigned before); { $priority } ticket taken first by priority then age
stored-assign-round-robin = round-robin: 1 of { $pool } available agent(s) in the department within shift; least recently assigned (last assigned { $last }); { $priority } ticket taken first by priority then age
stored-sla-escalated = SLA { $breach } deadline missed; priority { $from } -> { $to }; deadlines recomputed for { $to }, counted from now

stored-chat-photo = [Photo]
stored-chat-photo-too-large = [A photo too large to keep] { $caption }
stored-chat-photo-unreadable = [A photo that could not be read] { $caption }
stored-chat-photo-unavailable = [A photo WhatsApp no longer provides] { $caption }
stored-chat-unsupported = [{ $kind ->
        [audio] A voice note
        [video] A video
        [document] A document
        [sticker] A sticker
        [location] A location
        [contacts] A contact card
       *[other] A { $kind } message
    }, which fieldops cannot show; the customer was asked for text or a photo]
## What a customer is told in their chat (a system message, also on WhatsApp)
chat-system-nobody-available = Thank you for your message. No agent is available right now; we will reply as soon as one is.
chat-system-picked-up = { $name } from our customer service is now handling your conversation.

## WhatsApp registration (replies are sent in Bahasa Indonesia; English for completeness)
wa-register-help = To register, send: DAFTAR#<name>#<address>#<city> (for example: DAFTAR#Budi Santoso#Jl. Merdeka 1#Bandung)
wa-register-bad = The registration format is wrong ({ $why }). { $help }
wa-register-done = Thank you { $name }, your registration is complete. Reply to this message to reach our customer service.
wa-register-fields = expected DAFTAR#<name>#<address>#<city>
wa-register-field = { $field } { $problem }
wa-register-name = name
wa-register-address = address
wa-register-city = city
wa-customer-inactive = Your customer record is inactive, so your message was not passed on. Please contact our office to have it restored.
wa-register-differs = Thank you { $name }. This number is already registered; the changes you sent have been passed to our customer service to confirm.
wa-photo-too-large = Sorry, your photo is too large for us to keep. Please send it again under { $max_mb } MB.
wa-photo-unreadable = Sorry, we could not read your photo. Please send it again as a JPEG or PNG photo.
wa-photo-unavailable = Sorry, your photo did not reach us. Please send it again.
wa-media-unsupported = Sorry, we can only receive text and photos here. Please write your message or send a photo.
