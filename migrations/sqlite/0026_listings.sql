-- Each document's list fields (fieldops_sync::listing::Listing, in its
-- stored form), computed whenever it is stored and sent beside the whole
-- document to devices of protocol version 6 on, which index it without
-- parsing it; and the heads of the state it was computed from. A listing
-- is sent only while those are the document's heads: a write by a build
-- that does not keep listings (during a rolling update or a rollback)
-- leaves it stale and unsent, and devices read the document instead.
ALTER TABLE sync_documents ADD COLUMN listing BLOB NULL;
ALTER TABLE sync_documents ADD COLUMN listing_heads TEXT NULL;
