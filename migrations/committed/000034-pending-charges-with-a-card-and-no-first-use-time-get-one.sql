--! Previous: sha1:3774c877dfdc89a97729d54ee0882fa9832e7f62
--! Hash: sha1:2ac0c2caa9ad6e4f9e69b793e273ab7f567bce3c
--! Message: pending charges with a card and no first-use time get one

-- charges_prepare now writes key_first_sent_at with the charge row (000032)
-- instead of updating every pending row that lacks it. A pending charge with
-- a card and no first-use time (in flight when an older version ran) would
-- never be looked up before a re-send: it gets its last change's time, early
-- rather than late, so a re-send after 23 hours searches Stripe first.
update app_private.charges c
set key_first_sent_at = c.updated_at
where c.status = 'pending' and c.key_first_sent_at is null
  and exists (select from app_private.reservation_card_of(c.reservation_id) card
              where card.payment_method is not null and card.customer is not null);
