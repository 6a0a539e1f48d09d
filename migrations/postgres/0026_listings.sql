-- Each document's list fields (fieldops_sync::listing::Listing, postcard
-- bytes), computed whenever it is stored and sent beside the whole
-- document to devices of protocol version 6 on, which index it without
-- parsing it. NULL for documents not written since: devices read those.
ALTER TABLE sync_documents ADD COLUMN listing BYTEA NULL;
