-- Accounts, third step: guest reservations are claimed at every sign-in of a
-- verified user too (not only when the email is verified), found by index.

create index if not exists reservations_guest_email_idx on app_public.reservations (email) where user_id is null;

--!include accounts_password.sql
--!include accounts_staff.sql
