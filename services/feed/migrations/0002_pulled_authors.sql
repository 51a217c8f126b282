-- An author the fan-out stopped pushing (hybridFanout on, follower_count reached
-- FANOUT_CELEBRITY_THRESHOLD) stays pulled for good: their posts made while pulled are in no
-- follower's timeline, so if they dropped back below the threshold and readers stopped merging
-- them, those posts would vanish from every timeline. Set by the fan-out worker at the author's
-- first pulled post (src/fanout/pulled-authors.ts); read by the read-time merge and the rebuild.
ALTER TABLE users ADD COLUMN pulled boolean NOT NULL DEFAULT false;
