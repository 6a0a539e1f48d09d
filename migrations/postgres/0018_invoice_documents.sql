-- Invoices become sync documents on the customer's phone
-- (server/src/sync/invoices.rs).

ALTER TABLE sync_documents DROP CONSTRAINT sync_documents_kind_check;
ALTER TABLE sync_documents ADD CONSTRAINT sync_documents_kind_check
    CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes', 'invoice'));
