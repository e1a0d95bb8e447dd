-- pgbench script: the same search the API benchmark sends, as the API runs it for
-- an anonymous request: app_authenticator connections start as app_anonymous.
\set lat_e5 random(4060000, 4085000)
\set lng_e5 random(-7400000, -7385000)
select (m.spot).id, m.distance, (m.price).amount
  from app_public.spots_near(:lat_e5 / 100000.0, :lng_e5 / 100000.0, 0.5) m limit 10;
