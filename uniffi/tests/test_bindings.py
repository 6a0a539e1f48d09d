"""fieldops-ffi through its generated Python bindings, against a real server.

Starts `fieldops serve --demo` on 127.0.0.1:0 with a fresh SQLite file, then
drives a technician's phone: log in, sync, go offline, queue work, come back,
see the answers. Also checks that bad input gets typed errors, never a crash.
Prints 'N passed, N failed' and exits non-zero on any failure.
"""

import asyncio
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

import fieldops_ffi as ffi

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Server:
    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        db = os.path.join(self.dir.name, "server.db")
        self.proc = subprocess.Popen(
            [os.environ["FIELDOPS_BIN"], "serve", "--demo", "--listen", "127.0.0.1:0",
             "--database-url", f"sqlite://{db}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "FIELDOPS_LOG": "info"},
        )
        self.url = None
        for line in self.proc.stdout:
            m = re.search(r"listening on (http://[0-9.:]+)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            raise RuntimeError("the server did not start")
        # Keep draining its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.dir.cleanup()


class Events(ffi.EventListener):
    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)


def store_path(name):
    return os.path.join(tempfile.mkdtemp(), name)


@test
def technician_flow_offline_and_back(server):
    phone = ffi.FieldopsClient.open(store_path("phone.db"))
    events = Events()
    phone.add_listener(events)
    account = asyncio.run(phone.login(server.url, "tech1@example.com", "tech123"))
    assert account.role == "technician", account
    report = asyncio.run(phone.sync_now(20_000))
    assert report.cursor >= 0
    status = phone.sync_status()
    assert status.state == ffi.SyncStateRecord.IDLE, status
    assert status.last_synced_at_ms is not None

    # Offline: work is queued and visible at once.
    phone.stop_sync()
    sent = phone.send_chat_message(None, "On my way, 10 minutes.")
    assert sent.state == ffi.CommandStateRecord.PENDING
    assert phone.sync_status().pending_commands == 1
    assert [c.command_id for c in phone.outbox(True)] == [sent.command_id]

    # Back online: the server answers and the app hears it.
    asyncio.run(phone.sync_now(20_000))
    answered = phone.command(sent.command_id)
    assert answered.state in (ffi.CommandStateRecord.ACCEPTED, ffi.CommandStateRecord.REJECTED)
    assert phone.sync_status().pending_commands == 0
    assert any(isinstance(e, ffi.EventRecord.COMMAND_ANSWERED) for e in events.events)
    assert any(isinstance(e, ffi.EventRecord.SYNC_STATUS_CHANGED) for e in events.events)


@test
def customer_opens_a_ticket_offline(server):
    phone = ffi.FieldopsClient.open(store_path("customer.db"))
    asyncio.run(phone.login(server.url, "customer@example.com", "customer123"))
    asyncio.run(phone.sync_now(20_000))
    phone.stop_sync()
    queued = phone.create_ticket("AC tidak dingin", "Sejak kemarin sore.", "technical")
    assert queued.name == "create_ticket" and queued.target_id, queued
    [item] = [t for t in phone.my_tickets(None) if t.id == queued.target_id]
    assert item.pending and item.status == "open", item
    assert phone.ticket(queued.target_id).number == "TKT-000000"
    e = expect(ffi.FieldopsError.InvalidInput, phone.create_ticket, " ", "", "technical")
    assert e.field == "subject", e

    # Twice: the document can arrive in a frame after the command's answer.
    asyncio.run(phone.sync_now(20_000))
    asyncio.run(phone.sync_now(20_000))
    assert phone.command(queued.command_id).state == ffi.CommandStateRecord.ACCEPTED
    ticket = phone.ticket(queued.target_id)
    assert re.fullmatch(r"TKT-\d{6,}", ticket.number) and ticket.number != "TKT-000000", ticket
    [item] = [t for t in phone.my_tickets("open") if t.id == queued.target_id]
    assert not item.pending and item.title.startswith(ticket.number), item


@test
def the_session_survives_a_restart(server):
    path = store_path("phone.db")
    phone = ffi.FieldopsClient.open(path)
    asyncio.run(phone.login(server.url, "tech2@example.com", "tech123"))
    device = phone.device_id()
    del phone
    again = ffi.FieldopsClient.open(path)
    assert again.device_id() == device
    assert again.account().email == "tech2@example.com"
    asyncio.run(again.sync_now(20_000))


@test
def wrong_password_is_unauthorized(server):
    phone = ffi.FieldopsClient.open(store_path("phone.db"))
    try:
        asyncio.run(phone.login(server.url, "tech1@example.com", "nope"))
    except ffi.FieldopsError.Unauthorized:
        pass
    else:
        raise AssertionError("expected Unauthorized")
    assert phone.account() is None


def expect(error, fn, *args):
    try:
        fn(*args)
    except error as e:
        return e
    raise AssertionError(f"expected {error.__name__}")


@test
def calls_before_login_are_typed_errors(server):
    phone = ffi.FieldopsClient.open(store_path("phone.db"))
    visit = "01900000-0000-7000-8000-000000000001"
    expect(ffi.FieldopsError.NotLoggedIn, phone.claim_visit, visit)
    expect(ffi.FieldopsError.NotLoggedIn, phone.start_sync)
    expect(ffi.FieldopsError.NotLoggedIn, phone.send_chat_message, None, "hi")
    try:
        asyncio.run(phone.sync_now(1000))
    except ffi.FieldopsError.NotLoggedIn:
        pass
    else:
        raise AssertionError("sync before login")
    assert phone.my_visits(None) == []


@test
def bad_input_is_typed_errors(server):
    phone = ffi.FieldopsClient.open(store_path("phone.db"))
    asyncio.run(phone.login(server.url, "tech1@example.com", "tech123"))
    e = expect(ffi.FieldopsError.InvalidInput, phone.claim_visit, "not-an-id")
    assert e.field == "visit_id"
    expect(ffi.FieldopsError.InvalidInput, phone.visit, "")
    expect(ffi.FieldopsError.NotFound, phone.visit, "01900000-0000-7000-8000-000000000001")
    e = expect(ffi.FieldopsError.InvalidInput, phone.pool, 91.0, 0.0)
    assert e.field == "lat"
    expect(ffi.FieldopsError.InvalidInput, phone.check_in,
           "01900000-0000-7000-8000-000000000001", 0.0, 181.0, 5.0)
    expect(ffi.FieldopsError.InvalidInput, phone.my_visits, "yesterday")
    expect(ffi.FieldopsError.InvalidInput, phone.my_tickets, "bogus")
    expect(ffi.FieldopsError.InvalidInput, phone.send_chat_message, None, "")
    expect(ffi.FieldopsError.InvalidInput, phone.command, "zzz")
    try:
        asyncio.run(phone.login("ftp://x", "a@b.c", "pw"))
    except ffi.FieldopsError.InvalidInput:
        pass
    else:
        raise AssertionError("bad base URL")


@test
def a_corrupted_store_file_is_a_typed_error(server):
    path = store_path("broken.db")
    with open(path, "wb") as f:
        f.write(os.urandom(16384))
    expect(ffi.FieldopsError.StoreUnusable, ffi.FieldopsClient.open, path)


def http(server, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, None


def png(width, height):
    """A small RGB PNG with a gradient, made without any imaging library."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 96))
        for y in range(height)
    )

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@test
def a_photo_attached_offline_is_uploaded_after_sync(server):
    status, login = http(server, "POST", "/api/v1/auth/login",
                         body={"email": "customer@example.com", "password": "customer123"})
    assert status == 200, status
    token = login["access_token"]
    status, ticket = http(server, "POST", "/api/v1/tickets", token,
                          {"subject": "Keran bocor", "category": "technical"})
    assert status == 201, status

    phone = ffi.FieldopsClient.open(store_path("customer.db"))
    events = Events()
    phone.add_listener(events)
    asyncio.run(phone.login(server.url, "customer@example.com", "customer123"))

    # Offline (no sync running): the photo is there at once, its upload queued.
    attached = phone.attach_photo(ffi.PhotoOwnerKind.TICKET, ticket["id"], png(640, 480),
                                  "Keran di dapur", int(time.time() * 1000))
    assert (attached.width, attached.height) == (640, 480), attached
    photo = phone.photo(attached.photo_id)
    assert photo.upload_state == "pending" and photo.caption == "Keran di dapur", photo
    assert [p.id for p in phone.photos_of(ticket["id"])] == [attached.photo_id]
    assert phone.photo_file(attached.sha256) == attached.path
    queued = phone.pending_photo_uploads()
    assert sorted(u.thumbnail for u in queued) == [False, True], queued
    assert all(u.status == ffi.UploadStatusRecord.PENDING for u in queued)
    assert phone.sync_status().pending_uploads == 2

    # Online: the document goes up, then the bytes, then "stored".
    report = asyncio.run(phone.sync_now(30_000))
    assert report.uploads_completed == 2, report
    assert report.upload_error is None, report
    assert report.upload_bytes_sent == attached.byte_size + os.path.getsize(attached.thumbnail_path)
    assert phone.photo(attached.photo_id).upload_state == "stored"
    assert asyncio.run(phone.fetch_photo(attached.photo_id, True)) == attached.thumbnail_path
    assert phone.free_photo_space(0) == attached.byte_size
    assert asyncio.run(phone.fetch_photo(attached.photo_id, False)) == attached.path
    assert phone.pending_photo_uploads() == []
    assert phone.sync_status().pending_uploads == 0
    progress = [e for e in events.events if isinstance(e, ffi.EventRecord.UPLOAD_PROGRESS)]
    assert any(e.sha256 == attached.sha256 and e.bytes_sent == e.bytes_total for e in progress)
    status, blob = http(server, "GET", f"/api/v1/blobs/{attached.sha256}", token)
    assert status == 200 and blob["byte_size"] == attached.byte_size, (status, blob)
    status, link = http(server, "GET", f"/api/v1/blobs/{attached.sha256}/link?variant=thumbnail", token)
    assert status == 200 and link["sha256"] == attached.thumbnail_sha256, (status, link)

    # Bad input: typed errors, nothing stored.
    e = expect(ffi.FieldopsError.InvalidPhoto, phone.attach_photo, ffi.PhotoOwnerKind.TICKET,
               ticket["id"], b"not a photo at all", "", 0)
    assert e.code == "unsupported_format", e
    e = expect(ffi.FieldopsError.InvalidPhoto, phone.attach_photo, ffi.PhotoOwnerKind.TICKET,
               ticket["id"], png(64, 48)[:60], "", 0)
    assert e.code in ("corrupt", "unsupported_format"), e
    e = expect(ffi.FieldopsError.InvalidInput, phone.attach_photo, ffi.PhotoOwnerKind.VISIT,
               "nope", png(64, 48), "", 0)
    assert e.field == "owner_id"
    assert phone.pending_photo_uploads() == []


@test
def a_photo_past_a_full_ticket_is_kept_until_dismissed(server):
    status, login = http(server, "POST", "/api/v1/auth/login",
                         body={"email": "customer@example.com", "password": "customer123"})
    assert status == 200, status
    status, ticket = http(server, "POST", "/api/v1/tickets", login["access_token"],
                          {"subject": "Atap bocor", "category": "technical"})
    assert status == 201, status
    phone = ffi.FieldopsClient.open(store_path("full-ticket.db"))
    asyncio.run(phone.login(server.url, "customer@example.com", "customer123"))
    # Six photos before syncing; a ticket takes five (the default).
    for n in range(6):
        phone.attach_photo(ffi.PhotoOwnerKind.TICKET, ticket["id"], png(320 + n, 240),
                           f"Foto {n + 1}", int(time.time() * 1000) + n)
    asyncio.run(phone.sync_now(30_000))
    refused = phone.refused_documents()
    assert len(refused) == 1, refused
    kept = refused[0]
    assert kept.kind == "photo" and kept.parent_id == ticket["id"] and kept.created_here, kept
    assert kept.violations == ["owner:wrong_state"], kept
    listed = phone.photos_of(ticket["id"])
    assert len(listed) == 6, listed
    assert [p.status for p in listed if p.id == kept.id] == ["refused"], listed
    assert phone.photo(kept.id).caption == kept.title
    # Its files are not uploaded: the queue shows them failed with the refusal.
    set_aside = [u for u in phone.pending_photo_uploads() if u.photo_id == kept.id]
    assert len(set_aside) == 2, set_aside
    assert all(u.status == ffi.UploadStatusRecord.FAILED for u in set_aside), set_aside
    assert all(u.last_error == "document_refused: owner:wrong_state" for u in set_aside), set_aside
    # A kept photo is not a kept visit or ticket.
    expect(ffi.FieldopsError.NotFound, phone.refused_visit, kept.id)
    expect(ffi.FieldopsError.NotFound, phone.refused_ticket, kept.id)
    expect(ffi.FieldopsError.InvalidInput, phone.refused_visit, "nope")
    assert phone.dismiss_refused(kept.id)
    assert not phone.dismiss_refused(kept.id)
    assert len(phone.photos_of(ticket["id"])) == 5
    assert phone.refused_documents() == []
    expect(ffi.FieldopsError.InvalidInput, phone.dismiss_refused, "nope")


@test
def a_customer_pays_an_invoice_offline(server):
    tokens = {}
    for who, password in (("sales", "sales123"), ("cs", "cs123")):
        status, login = http(server, "POST", "/api/v1/auth/login",
                             body={"email": f"{who}@example.com", "password": password})
        assert status == 200, status
        tokens[who] = login["access_token"]
    # Sales approve the demo invoice waiting for them; CS send it.
    status, waiting = http(server, "GET", "/api/v1/invoices?status=pending_approval", tokens["sales"])
    assert status == 200 and waiting["items"], (status, waiting)
    invoice = waiting["items"][0]
    for step, who in (("approve", "sales"), ("send", "cs")):
        status, _ = http(server, "POST", f"/api/v1/invoices/{invoice['id']}/{step}", tokens[who], {})
        assert status == 200, (step, status)

    phone = ffi.FieldopsClient.open(store_path("payer.db"))
    asyncio.run(phone.login(server.url, "customer@example.com", "customer123"))
    asyncio.run(phone.sync_now(30_000))
    record = phone.invoice(invoice["id"])
    assert record.status == "sent" and record.total == invoice["total"], record
    assert record.number.startswith("INV/") and record.payable == record.amount_due == record.total
    assert [line.kind for line in record.lines] == ["labour", "material", "travel"], record.lines
    assert invoice["id"] in [item.id for item in phone.invoices("sent")]

    # Offline: more than is due is a typed error; a payment with its receipt is queued.
    e = expect(ffi.FieldopsError.InvalidInput, phone.pay_invoice, invoice["id"],
               record.payable + 1, "", png(320, 240), 0)
    assert e.field == "amount", e
    paid = phone.pay_invoice(invoice["id"], 100_000, "BCA 0612", png(640, 480),
                             int(time.time() * 1000))
    assert paid.command.state == ffi.CommandStateRecord.PENDING, paid
    [queued] = phone.invoice_payments(invoice["id"])
    assert queued.state == ffi.PaymentStateRecord.QUEUED and queued.amount == 100_000, queued

    # Online: recorded once, with the receipt CS can see.
    for _ in range(3):
        asyncio.run(phone.sync_now(30_000))
        if phone.invoice(invoice["id"]).status == "payment_submitted":
            break
    [submitted] = phone.invoice_payments(invoice["id"])
    assert submitted.state == ffi.PaymentStateRecord.SUBMITTED, submitted
    assert submitted.payment_id == paid.payment_id
    status, detail = http(server, "GET", f"/api/v1/invoices/{invoice['id']}", tokens["cs"])
    assert status == 200 and detail["status"] == "payment_submitted", (status, detail)
    assert detail["payments"][0]["proof_sha256"] == paid.receipt.sha256, detail["payments"]
    expect(ffi.FieldopsError.InvalidInput, phone.invoices, "bogus")


@test
def a_customer_walks_a_journey_offline_and_submits_it(server):
    status, login = http(server, "POST", "/api/v1/auth/login",
                         body={"email": "admin@example.com", "password": "admin123"})
    assert status == 200, status
    admin = login["access_token"]
    phone = ffi.FieldopsClient.open(store_path("journey.db"))
    asyncio.run(phone.login(server.url, "customer@example.com", "customer123"))
    asyncio.run(phone.sync_now(30_000))
    [journey] = phone.journeys()
    assert journey.title_id == "Keluhan Layanan" and journey.title_en == "Service complaint", journey

    # Offline from here: the form is walked without the server.
    form = phone.start_journey(journey.journey_id)
    assert isinstance(form.screen, ffi.FormScreenRecord.QUESTION), form.screen
    question = form.screen.question
    assert question.id == "jenis" and question.kind == "single" and question.required
    assert [c.id for c in question.choices] == ["perangkat_rusak", "tagihan", "lainnya"]
    e = expect(ffi.FieldopsError.InvalidInput, phone.answer_journey, form.form_id, "jenis",
               ffi.AnswerRecord.CHOICE("pencurian"))
    assert "pencurian" in e.reason, e
    form = phone.answer_journey(form.form_id, "jenis", ffi.AnswerRecord.CHOICE("perangkat_rusak"))
    form = phone.answer_journey(form.form_id, "perangkat", ffi.AnswerRecord.CHOICE("kulkas"))
    assert form.screen.question.kind == "multi"
    form = phone.answer_journey(form.form_id, "kerusakan", ffi.AnswerRecord.CHOICES(["mati", "berisik"]))
    assert form.screen.question.id == "foto" and form.screen.question.max_count == 5
    form = phone.answer_journey_photos(form.form_id, "foto", [png(320, 240), png(400, 300)],
                                       int(time.time() * 1000))
    assert isinstance(form.screen, ffi.FormScreenRecord.END), form.screen
    assert (form.screen.end_id, form.screen.priority) == ("selesai_perangkat", "high"), form.screen
    assert form.path == ["jenis", "perangkat", "kerusakan", "foto"]
    back = phone.journey_back(form.form_id)
    assert len(back.screen.answer.sha256s) == 2, back.screen
    assert [f.form_id for f in phone.journey_forms()] == [form.form_id]
    command = phone.submit_journey(form.form_id)
    assert command.state == ffi.CommandStateRecord.PENDING and command.name == "submit_journey"
    [waiting] = phone.journey_forms()
    assert waiting.submitted and waiting.rejection is None, waiting

    # Online: one ticket, high priority, both photos arrived.
    for _ in range(5):
        asyncio.run(phone.sync_now(30_000))
        if phone.command(command.command_id).state == ffi.CommandStateRecord.ACCEPTED \
                and phone.pending_photo_uploads() == []:
            break
    assert phone.command(command.command_id).state == ffi.CommandStateRecord.ACCEPTED
    assert phone.journey_forms() == [], "accepted: the form is done"
    status, ticket = http(server, "GET", f"/api/v1/tickets/{form.form_id}", admin)
    assert status == 200 and ticket["priority"] == "high", (status, ticket)
    status, answers = http(server, "GET", f"/api/v1/tickets/{form.form_id}/journey", admin)
    assert status == 200 and answers["end_id"] == "selesai_perangkat", (status, answers)
    photos = answers["answers"][3]["photos"]
    assert [p["received"] for p in photos] == [True, True], photos
    expect(ffi.FieldopsError.InvalidInput, phone.start_journey, "not-an-id")


class Console:
    """A staff console on /api/v1/events: a WebSocket client in the standard
    library (RFC 6455 text frames, masked as a client must), so the test
    needs nothing installed."""

    def __init__(self, server, token):
        url = urllib.parse.urlparse(server.url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET /api/v1/events HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.seq = 0

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def signal(self, call_id, signal):
        self.seq += 1
        self._frame(0x1, json.dumps({"call_id": call_id, "seq": self.seq, "signal": signal}).encode())

    def next_call(self):
        """The next call message for this console (skipping other events)."""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            opcode = first & 0x0F
            if opcode == 0x9:
                self._frame(0xA, payload)
            elif opcode == 0x8:
                raise ConnectionError("closed by the server")
            elif opcode == 0x1:
                event = json.loads(payload)
                if event["kind"] == "call.signal":
                    return event["data"]

    def close(self):
        self.sock.close()


def wait_for(events, predicate, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        for event in list(events.events):
            if predicate(event):
                return event
        time.sleep(0.05)
    raise AssertionError(f"no such event; saw {events.events}")


@test
def a_customer_takes_a_call_on_the_phone(server):
    _, login = http(server, "POST", "/api/v1/auth/login",
                    body={"email": "cs@example.com", "password": "cs123"})
    cs = login["access_token"]
    _, login = http(server, "POST", "/api/v1/auth/login",
                    body={"email": "customer@example.com", "password": "customer123"})
    _, me = http(server, "GET", "/api/v1/me", login["access_token"])
    customer_id = me["customer"]["id"]
    phone = ffi.FieldopsClient.open(store_path("calls.db"))
    events = Events()
    phone.add_listener(events)
    asyncio.run(phone.login(server.url, "customer@example.com", "customer123"))
    phone.start_sync()

    # Nobody available yet: calling support is refused at once, chat offered.
    status, _ = http(server, "PUT", "/api/v1/me/status", cs, {"status": "offline"})
    assert status == 200
    lonely = phone.call_support(None, "audio")
    refused = wait_for(events, lambda e: isinstance(e, ffi.EventRecord.CALL_REFUSED) and e.call_id == lonely)
    assert refused.refusal == "no_agent" and "chat" in refused.message, refused
    assert phone.call(lonely).end_reason == "refused:no_agent"

    status, _ = http(server, "PUT", "/api/v1/me/status", cs, {"status": "available"})
    assert status == 200
    status, ticket = http(server, "POST", "/api/v1/tickets", cs,
                          {"subject": "Kulkas berisik", "category": "technical", "customer_id": customer_id})
    assert status == 201, (status, ticket)
    desk = Console(server, cs)
    invite = lambda: {"invite": {"callee": {"customer": {"customer_id": customer_id}},
                                 "ticket_id": ticket["id"], "media": "audio"}}

    # The phone rings (the core tells the server), the customer accepts.
    call_id = str(uuid.uuid4())
    desk.signal(call_id, invite())
    assert "placed" in desk.next_call()["event"]
    incoming = wait_for(events, lambda e: isinstance(e, ffi.EventRecord.INCOMING_CALL) and e.call_id == call_id)
    assert (incoming.caller_name, incoming.from_staff, incoming.ticket_id, incoming.media) == \
        ("Siti Rahmawati", True, ticket["id"], "audio"), incoming
    assert desk.next_call()["event"] == "ringing"
    assert phone.current_call().state == "ringing"
    phone.accept_call(call_id)
    assert desk.next_call()["event"] == "accepted"
    wait_for(events, lambda e: isinstance(e, ffi.EventRecord.CALL_CHANGED) and e.call_id == call_id
             and e.state == "connected")

    # The signalling the app's WebRTC stack plugs into, both ways.
    desk.signal(call_id, {"sdp": {"kind": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}})
    offer = wait_for(events, lambda e: isinstance(e, ffi.EventRecord.CALL_SIGNAL) and e.kind == "offer")
    assert offer.payload.startswith("v=0"), offer
    phone.send_call_answer(call_id, "v=0\r\n")
    assert desk.next_call()["event"]["sdp"]["kind"] == "answer"
    phone.send_call_candidate(call_id, '{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}')
    assert "candidate" in desk.next_call()["event"]
    e = expect(ffi.FieldopsError.InvalidInput, phone.send_call_offer, call_id, "a" * 20000)
    assert e.field == "sdp", e
    desk.signal(call_id, "hangup")
    assert desk.next_call()["event"] == {"ended": {"reason": "hangup"}}
    ended = wait_for(events, lambda e: isinstance(e, ffi.EventRecord.CALL_CHANGED) and e.call_id == call_id
                     and e.state == "ended")
    assert ended.reason == "hangup", ended
    assert phone.current_call() is None
    expect(ffi.FieldopsError.InvalidInput, phone.accept_call, call_id)

    # Declined on the phone.
    declined = str(uuid.uuid4())
    desk.signal(declined, invite())
    desk.next_call()
    wait_for(events, lambda e: isinstance(e, ffi.EventRecord.INCOMING_CALL) and e.call_id == declined)
    phone.decline_call(declined)
    assert desk.next_call()["event"] == "ringing"
    assert desk.next_call()["event"] == {"ended": {"reason": "declined"}}

    # The caller's console goes away while it rings: missed, and listed.
    missed = str(uuid.uuid4())
    desk.signal(missed, invite())
    desk.next_call()
    wait_for(events, lambda e: isinstance(e, ffi.EventRecord.INCOMING_CALL) and e.call_id == missed)
    desk.close()
    wait_for(events, lambda e: isinstance(e, ffi.EventRecord.CALL_CHANGED) and e.call_id == missed
             and e.state == "ended")
    assert [c.call_id for c in phone.missed_calls()] == [missed]
    assert not phone.missed_calls()[0].seen
    phone.mark_calls_seen()
    assert phone.missed_calls()[0].seen
    expect(ffi.FieldopsError.InvalidInput, phone.accept_call, "not-an-id")
    expect(ffi.FieldopsError.InvalidInput, phone.call_support, None, "hologram")
    phone.stop_sync()


def main():
    server = Server()
    passed = failed = 0
    try:
        for fn in TESTS:
            try:
                fn(server)
                passed += 1
                print(f"ok   {fn.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc()
    finally:
        server.stop()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
