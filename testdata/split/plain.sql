CREATE TABLE account (
    id bigint PRIMARY KEY,
    email text NOT NULL
);

INSERT INTO account (id, email) VALUES (1, 'a@example.com');
ALTER TABLE account ADD COLUMN created_at timestamptz DEFAULT now(); SELECT 1;
