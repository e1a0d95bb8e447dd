-- Enter migration here

--!include reservations_triggers.sql
