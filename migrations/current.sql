-- One access decision per reservation (issue 9.1 / 11.2): reservation_for_caller
-- replaces reservation_for_update, reservation_for_payment and
-- payment_guest_token_ok (whose three-valued test let a signed-out caller pay
-- for a driver's reservation); the guest secret is `manage_token` everywhere,
-- and every reservation mutation returns reservation_result.

drop function if exists app_private.reservation_for_update(bigint, text);
drop function if exists app_hidden.reservation_for_payment(bigint, text);
drop function if exists app_hidden.payment_guest_token_ok(bigint, text);
-- Parameter names and return types change: create or replace cannot do that.
drop function if exists app_public.change_reservation_end(bigint, timestamptz, text);
drop function if exists app_public.end_reservation(bigint, text);
drop function if exists app_public.cancel_reservation(bigint, text);
drop function if exists app_public.guest_reservation(bigint, text);

do $$
begin
  if to_regtype('app_public.reservation_receipt') is not null then
    alter type app_public.reservation_receipt rename to reservation_result;
  end if;
end;
$$;
comment on type app_public.reservation_result is
  E'What every reservation mutation returns: the reservation as it left it, and the one-time guest manage token when one was issued (reserve as a guest); null otherwise.';
comment on column app_public.reservation_result.manage_token is
  E'Only when one is issued (a guest''s reserve): the secret that, with the reservation id, reads, changes, ends, cancels or pays for it. Shown once; keep it.';

--!include reservations_access.sql
--!include reservations_read.sql
--!include reservations_lifecycle.sql
--!include reservations_booking.sql
--!include reservations_triggers.sql
--!include payments_access.sql
--!include payments_setup.sql
