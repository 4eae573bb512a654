-- Challenges are stateless now (an HMAC of the id, see challenge.rs); only their use is
-- recorded, in the consuming transaction, and forgotten after expiry.
DROP TABLE challenges;
CREATE TABLE used_challenges (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_challenges_expiry ON used_challenges (expires_at);
