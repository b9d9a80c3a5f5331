-- Profile reads from memory (identity/profile_cache.c): custos serve polls a stamp of
-- the identity tables to see when a resolution has committed. Its newest
-- profiles.resolved_at must be one index probe, not a scan of every profile.
CREATE INDEX profiles_resolved_at ON profiles(resolved_at);
