-- kizuki schema, version 12. The 年度 in which a report's incident occurred (JST), beside the
-- 年度 it was filed in, so lists and counts can be asked by either. NULL while the occurrence
-- is unknown. A date moved back three months falls in the calendar year its 年度 starts in.
ALTER TABLE reports ADD COLUMN IF NOT EXISTS occurred_fy INTEGER;

UPDATE reports
   SET occurred_fy = EXTRACT(YEAR FROM ((details::jsonb ->> 'occurred_at')::timestamptz
                                        AT TIME ZONE 'UTC')
                                       + INTERVAL '9 hours' - INTERVAL '3 months')::integer
 WHERE details::jsonb ->> 'occurred_at' IS NOT NULL;

CREATE INDEX IF NOT EXISTS reports_occurred_fy ON reports (occurred_fy, reported_at);
