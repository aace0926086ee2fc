DROP TABLE imap_folders;
