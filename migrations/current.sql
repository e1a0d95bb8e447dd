-- Enter migration here

--!include reservations_triggers.sql
--!include payments_setup.sql
