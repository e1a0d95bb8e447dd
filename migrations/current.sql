-- Quotes respect the payment provider's least charge per currency, and a
-- charge the provider refuses for good ends at once (no automatic retry).

-- The least amount Stripe charges in each currency (minor units). A quote
-- never goes below it, so what search and booking show is what can be
-- charged; a rate may only use a currency listed here.
create table if not exists app_hidden.payment_minimums (
  currency       text primary key check (currency ~ '^[A-Z]{3}$'),
  minimum_amount int not null check (minimum_amount > 0)
);
comment on table app_hidden.payment_minimums is
  E'The payment provider''s least charge per currency, in minor units (Stripe''s published minimums).';
grant select on app_hidden.payment_minimums to app_anonymous;
insert into app_hidden.payment_minimums (currency, minimum_amount) values
  ('USD', 50), ('AUD', 50), ('BRL', 50), ('CAD', 50), ('CHF', 50), ('EUR', 50), ('INR', 50),
  ('NZD', 50), ('SGD', 50), ('GBP', 30), ('BGN', 100), ('AED', 200), ('MYR', 200), ('PLN', 200),
  ('RON', 200), ('DKK', 250), ('NOK', 300), ('SEK', 300), ('HKD', 400), ('MXN', 1000), ('THB', 1000),
  ('CZK', 1500), ('HUF', 17500), ('JPY', 50)
on conflict (currency) do update set minimum_amount = excluded.minimum_amount;
do $$
begin
  if not exists (select from pg_constraint where conname = 'rates_currency_chargeable_fkey') then
    alter table app_public.rates add constraint rates_currency_chargeable_fkey
      foreign key (currency) references app_hidden.payment_minimums (currency);
  end if;
end
$$;
comment on column app_public.rates.minimum_charge is
  E'Least amount charged for a reservation that has any metered time (the payment provider''s minimum for the currency applies as well).';

--!include quote.sql

drop function if exists app_private.charge_failed(bigint, int, text, text, text);
--!include payments_charge.sql

--!include spots_near.sql

-- Emails and reminders a user sees: an expired hold has its own email
-- (reservation_expired, not "cancelled"); short stays get a reminder a quarter
-- of the stay before the end.
--!include reservations_rules.sql
--!include reservations_triggers.sql

-- One name per job: booking's held -> confirmed is confirm_held_reservation;
-- the payments wrapper that mirrored its name is gone (setup_intent_apply
-- hands a held reservation over itself).
--!include reservations_lifecycle.sql
--!include payments_access.sql
--!include payments_setup.sql
drop function if exists app_private.payment_confirm_reservation(bigint);
drop function if exists app_private.confirm_reservation_payment(bigint);

-- Sign-up answers the user with the token (auth_session.user).
--!include accounts_password.sql

-- Guests who lost the manage token: sendManageLink mails a new one.
--!include accounts_core.sql
--!include reservations_guest_link.sql
