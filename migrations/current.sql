-- Accounts, second step: staff administration needs a verified email.

--!include accounts_password.sql
--!include accounts_staff.sql
