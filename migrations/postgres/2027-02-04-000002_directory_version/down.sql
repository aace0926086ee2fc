DROP TRIGGER users_directory ON users;
DROP TRIGGER groups_directory ON groups;
DROP TRIGGER group_members_directory ON group_members;
DROP FUNCTION directory_changed();
DROP TABLE directory_version;
