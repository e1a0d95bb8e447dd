-- Enter migration here

--!include payments_charge.sql
