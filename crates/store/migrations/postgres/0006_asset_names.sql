-- The label a client gave an uploaded file (CRUN's asset-upload `name`), read back by asset-info.
ALTER TABLE assets ADD COLUMN name TEXT;
