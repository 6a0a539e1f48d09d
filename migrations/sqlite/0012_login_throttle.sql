-- Failed sign-ins in the current window, per account (`account:<e-mail>`) and
-- per client address (`address:<ip>`), so that password guessing is slowed
-- on every instance alike (server/src/auth/throttle.rs).
CREATE TABLE login_failures (
    throttle_key TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);
