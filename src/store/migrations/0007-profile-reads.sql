-- Profile reads (identity/profile_cache.c, the store's profile_view).
-- custos serve polls a stamp of the identity tables to see when a resolution has
-- committed: its newest profiles.resolved_at must be one index probe, not a scan.
CREATE INDEX profiles_resolved_at ON profiles(resolved_at);
-- profile_view's orders summary finds a profile's orders by their records, and its
-- merge history by either side: without these each view scanned every order and
-- every merge (12 ms a view on the demo world of 10,000 customers; 0.8 ms with them).
CREATE INDEX orders_record ON orders(record_id);
CREATE INDEX merges_into ON merges(into_profile);
CREATE INDEX merges_from ON merges(from_profile);
