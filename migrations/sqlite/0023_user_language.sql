-- A person's language (`id` or `en`), chosen in the console's header or
-- with `PUT /api/v1/me/language`: it wins over the browser's
-- `Accept-Language` on every device they sign in from. NULL: not chosen.
ALTER TABLE users ADD COLUMN language TEXT NULL;
