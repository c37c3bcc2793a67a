-- 0042_result_docs: GET /results/{id} and GET /needs/{id} made cheap (issue #10).
--
-- market_result_json() and market_need_json() (0012) were SQL functions with
-- sub-selects, which PostgreSQL cannot inline and so planned again on every
-- statement that called them once: a single-row GET spent ~1 ms planning and
-- ran at ~2,000 statements/s on two cores.  As PL/pgSQL functions their plans
-- are made once per session (~6x faster); the bodies are unchanged.
--
-- And the public form of a published result, the document everyone but its
-- holder and staff is served, is rendered once when it changes and kept in
-- result_docs: the GET is then one index lookup (the form of a need is not
-- kept, since its status turns 'expired' with the date).  result_docs holds a
-- row exactly for each result the public can see; it is re-rendered when the
-- result changes and when a label it shows changes (the holder's name or
-- type, a code label, a region name).  The GET falls back to rendering when a
-- row is missing, so a lost row costs speed, never correctness.

CREATE OR REPLACE FUNCTION market_result_json(r results, p_full boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
            'id', r.id, 'kind', 'result', 'title', r.title, 'summary', r.summary,
            'keywords', to_jsonb(r.keywords), 'completers', to_jsonb(r.completers),
            'domain', r.domain,
            'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = r.domain),
            'industries', to_jsonb(r.industries), 'trl', r.trl,
            'maturity', r.maturity,
            'maturity_label', (SELECT label FROM codes WHERE list = 'maturity_stages' AND code = r.maturity),
            'ip_records', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'type', x->>'type', 'type_label', c.label,
                                'number', x->>'number', 'status', x->>'status') ORDER BY o), '[]')
                           FROM jsonb_array_elements(r.ip_records) WITH ORDINALITY AS e(x, o)
                           LEFT JOIN codes c ON c.list = 'ip_types' AND c.code = x->>'type'),
            'transfer_modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o), '[]')
                               FROM unnest(r.transfer_modes) WITH ORDINALITY AS u(m, o)
                               LEFT JOIN codes c ON c.list = 'transfer_modes' AND c.code = u.m),
            'pricing_mode', r.pricing_mode,
            'pricing_mode_label', (SELECT label FROM codes WHERE list = 'pricing_modes' AND code = r.pricing_mode),
            'asking_price_fen', r.asking_price_fen, 'negotiable', r.asking_price_fen IS NULL,
            'region_code', r.region_code, 'region_name', (SELECT name FROM regions WHERE code = r.region_code),
            'contact', r.contact,
            'holder', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type,
                                                 'org_type_label', c.label)
                       FROM orgs g LEFT JOIN codes c ON c.list = 'org_types' AND c.code = g.org_type
                       WHERE g.id = r.holder_org_id),
            'status', r.status, 'reject_reason', CASE WHEN p_full THEN r.reject_reason END,
            'submitted_at', CASE WHEN p_full THEN r.submitted_at END,
            'reviewed_at', CASE WHEN p_full THEN r.reviewed_at END,
            'published_at', r.published_at, 'withdrawn_at', r.withdrawn_at,
            'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version));
END $$;

CREATE OR REPLACE FUNCTION market_need_json(n needs, p_full boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
            'id', n.id, 'kind', 'need', 'title', n.title, 'description', n.description,
            'keywords', to_jsonb(n.keywords),
            'domain', n.domain,
            'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = n.domain),
            'industry', n.industry, 'trl_min', n.trl_min,
            'region_code', n.region_code, 'region_name', (SELECT name FROM regions WHERE code = n.region_code),
            'budget_min_fen', n.budget_min_fen, 'budget_max_fen', n.budget_max_fen,
            'negotiable', n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL,
            'deadline', n.deadline,
            'cooperation_modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o),
                                                  '[]')
                                  FROM unnest(n.cooperation_modes) WITH ORDINALITY AS u(m, o)
                                  LEFT JOIN codes c ON c.list = 'cooperation_modes' AND c.code = u.m),
            'contact', n.contact,
            'org', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type, 'org_type_label', c.label)
                    FROM orgs g LEFT JOIN codes c ON c.list = 'org_types' AND c.code = g.org_type
                    WHERE g.id = n.org_id),
            'status', CASE WHEN n.status = 'open' AND n.deadline < (now() AT TIME ZONE 'Asia/Shanghai')::date
                           THEN 'expired' ELSE n.status END,
            'reject_reason', CASE WHEN p_full THEN n.reject_reason END,
            'close_reason', n.close_reason,
            'submitted_at', CASE WHEN p_full THEN n.submitted_at END,
            'reviewed_at', CASE WHEN p_full THEN n.reviewed_at END,
            'published_at', n.published_at, 'closed_at', n.closed_at,
            'created_at', n.created_at, 'updated_at', n.updated_at, 'version', n.version));
END $$;

CREATE TABLE result_docs (
    id  bigint PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    doc text NOT NULL  -- market_result_json(r, false)::text
);
COMMENT ON TABLE result_docs IS
    'The public JSON of each result the public can see (published, under notice), rendered when it changes.';

CREATE FUNCTION result_docs_sync(r results) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF r.status IN ('published', 'under_notice') THEN
        INSERT INTO result_docs (id, doc) VALUES (r.id, market_result_json(r, false)::text)
        ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc;
    ELSE
        DELETE FROM result_docs WHERE id = r.id;
    END IF;
END $$;

CREATE FUNCTION result_docs_results_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status NOT IN ('published', 'under_notice')
       AND NEW.status NOT IN ('published', 'under_notice') THEN
        RETURN NULL;  -- hidden before and after: nothing kept
    END IF;
    PERFORM result_docs_sync(NEW);
    RETURN NULL;
END $$;
CREATE TRIGGER results_docs AFTER INSERT OR UPDATE ON results
    FOR EACH ROW EXECUTE FUNCTION result_docs_results_trigger();

CREATE FUNCTION result_docs_orgs_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.org_type, OLD.name) IS DISTINCT FROM (NEW.org_type, NEW.name) THEN
        UPDATE result_docs d SET doc = market_result_json(r, false)::text
        FROM results r WHERE r.id = d.id AND r.holder_org_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orgs_result_docs AFTER UPDATE OF org_type, name ON orgs
    FOR EACH ROW EXECUTE FUNCTION result_docs_orgs_trigger();

CREATE FUNCTION result_docs_codes_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.label IS DISTINCT FROM NEW.label THEN
        UPDATE result_docs d SET doc = market_result_json(r, false)::text
        FROM results r
        WHERE r.id = d.id
          AND ((NEW.list = 'domains' AND r.domain = NEW.code)
               OR (NEW.list = 'maturity_stages' AND r.maturity = NEW.code)
               OR (NEW.list = 'pricing_modes' AND r.pricing_mode = NEW.code)
               OR (NEW.list = 'transfer_modes' AND NEW.code = ANY (r.transfer_modes))
               OR (NEW.list = 'ip_types' AND r.ip_records @> jsonb_build_array(jsonb_build_object('type', NEW.code)))
               OR (NEW.list = 'org_types'
                   AND EXISTS (SELECT 1 FROM orgs g WHERE g.id = r.holder_org_id AND g.org_type = NEW.code)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER codes_result_docs AFTER UPDATE OF label ON codes
    FOR EACH ROW EXECUTE FUNCTION result_docs_codes_trigger();

CREATE FUNCTION result_docs_regions_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.name IS DISTINCT FROM NEW.name THEN
        UPDATE result_docs d SET doc = market_result_json(r, false)::text
        FROM results r WHERE r.id = d.id AND r.region_code = NEW.code;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER regions_result_docs AFTER UPDATE OF name ON regions
    FOR EACH ROW EXECUTE FUNCTION result_docs_regions_trigger();

-- the results already public
INSERT INTO result_docs (id, doc)
SELECT r.id, market_result_json(r, false)::text FROM results r WHERE r.status IN ('published', 'under_notice');

GRANT SELECT, INSERT, UPDATE, DELETE ON result_docs TO yizhan_app;
