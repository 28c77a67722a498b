"""Backups that lose nothing: a consistent snapshot of the database with the uploaded files and
a manifest (`snapshot`), checked and restored (`restore`); what both read of a database
(`facts`) and of an archive (`archive`)."""
