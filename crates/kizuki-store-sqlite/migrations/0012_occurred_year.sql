-- kizuki schema, version 12. The 年度 in which a report's incident occurred (JST), beside the
-- 年度 it was filed in, so lists and counts can be asked by either. NULL while the occurrence
-- is unknown. A date moved back three months falls in the calendar year its 年度 starts in.
ALTER TABLE reports ADD COLUMN occurred_fy INTEGER;

UPDATE reports
   SET occurred_fy = CAST(strftime('%Y', json_extract(details, '$.occurred_at'),
                                   '+9 hours', '-3 months') AS INTEGER)
 WHERE json_extract(details, '$.occurred_at') IS NOT NULL;

CREATE INDEX IF NOT EXISTS reports_occurred_fy ON reports (occurred_fy, reported_at);
