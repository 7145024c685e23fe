-- Document search whose cost is bounded whatever the number of matches.
--
-- Ranking is the expensive part of full-text search: ts_rank reads the tsvector of every row it ranks, so a common
-- word ("rollback" matches 12,276 of the 20,000 seed documents) used to read and rank every match before the LIMIT.
-- Now at most 2,000 matches are ranked:
-- - a query with at most 2,000 matches (a product code, a rare word, two words together) is ranked exactly as
--   before, through the GIN index: same rows, same rank, same order;
-- - a broader one answers the best of its 2,000 newest matches (highest id), found by walking the primary key
--   backwards (a common word matches every few rows, so the walk stops early), with title and snippet read only
--   for the rows returned.
-- The count that picks the branch stops at the 2,001st match. The broad branch is planned with its words each time
-- (EXECUTE): a plan cached for a rare word would sort every match of a common one. The exact branch keeps the
-- prepared plan (no planning per call), as the tool's single query did.
CREATE FUNCTION search_documents_ranked(query text, max_results integer)
RETURNS TABLE (id bigint, title text, snippet text, rank double precision)
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
    q constant tsquery := websearch_to_tsquery('english', query);
    ranked_at_most constant integer := 2000;
BEGIN
    IF (SELECT count(*) FROM (SELECT FROM documents d WHERE d.search @@ q LIMIT ranked_at_most + 1) m)
        <= ranked_at_most THEN
        RETURN QUERY
        SELECT d.id, d.title, left(d.body, 160), ts_rank(d.search, q)::float8 AS rank
          FROM documents d
         WHERE d.search @@ q
         ORDER BY rank DESC, d.id
         LIMIT max_results;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $broad$
        WITH candidates AS (
            SELECT d.id, d.search FROM documents d WHERE d.search @@ $1 ORDER BY d.id DESC LIMIT $3
        ), ranked AS (
            SELECT c.id, ts_rank(c.search, $1)::float8 AS rank FROM candidates c ORDER BY rank DESC, c.id LIMIT $2
        )
        SELECT r.id, d.title, left(d.body, 160), r.rank
          FROM ranked r JOIN documents d ON d.id = r.id
         ORDER BY r.rank DESC, r.id
    $broad$ USING q, max_results, ranked_at_most;
END
$$;
