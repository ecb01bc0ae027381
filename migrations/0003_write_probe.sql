-- One row that `/readyz` rewrites in a committed transaction: the only honest proof that the
-- database can still be written (a full disk, a read-only or immutable file fail here).
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
INSERT INTO write_probe (id, at) VALUES (1, '');
