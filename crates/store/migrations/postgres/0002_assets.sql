-- Files uploaded by clients without storage of their own, usable as reference media.
CREATE TABLE assets (
    id            TEXT PRIMARY KEY,
    api_key_id    TEXT NOT NULL REFERENCES api_keys(id),
    object_key    TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL CHECK (size_bytes >= 0),
    facts_json    TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX assets_by_key ON assets(api_key_id, created_at_ms);
