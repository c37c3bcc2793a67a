-- 0011_stats_closes.sql — the year-end close of the statistics (年度结账):
-- a bureau freezes a year's figures for its region (an admin for any region or
-- the whole country); later changes to contracts of that year (cancellations,
-- amendments, payments, late registrations and imports) are recorded as
-- adjustments, listed for the closed year and shown as adjustments to prior
-- years in the year they were made, as statistical offices handle revisions.
-- The functions are in functions/stats.sql.

-- One close of a year for a region ('000000': the whole country).  A close
-- covers the region's subtree; reopening (an admin, with a reason) ends it, and
-- a new close freezes the figures again.
CREATE TABLE stats_closes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year          smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    region_code   text NOT NULL CHECK (region_code ~ '^[0-9]{6}$'),
    closed_at     timestamptz NOT NULL DEFAULT now(),
    closed_by     bigint REFERENCES users (id),
    note          text CHECK (char_length(note) <= 1000),
    reopened_at   timestamptz,
    reopened_by   bigint REFERENCES users (id),
    reopen_reason text CHECK (char_length(reopen_reason) <= 1000),
    CONSTRAINT stats_closes_reopen_has_reason CHECK ((reopened_at IS NULL) = (reopen_reason IS NULL))
);
COMMENT ON TABLE stats_closes IS
    'Year-end closes of the statistics: the figures of year for region_code and below are frozen in stats_closed_figures at closed_at, until reopened.';
CREATE UNIQUE INDEX stats_closes_one_open ON stats_closes (year, region_code) WHERE reopened_at IS NULL;

-- The frozen figures: the rows of contract_stats of the year for the region
-- and every region below it, as they were at the close; and, as dim
-- 'results_transferred' (flow out, key '', month 1), the research results
-- transferred per region (targets_progress reads it).
CREATE TABLE stats_closed_figures (
    close_id      bigint   NOT NULL REFERENCES stats_closes (id),
    region_code   text     NOT NULL,
    flow          text     NOT NULL,
    dim           text     NOT NULL,
    key           text     NOT NULL,
    month         smallint NOT NULL,
    n             bigint   NOT NULL,
    contract_fen  bigint   NOT NULL,
    technical_fen bigint   NOT NULL,
    received_fen  bigint   NOT NULL,
    PRIMARY KEY (close_id, region_code, flow, dim, key, month)
);

-- A change to the figures of a closed year, made after the close: what the
-- contract added to (or took from) the year's totals, and where its parties
-- are (the regions whose figures it changes).
CREATE TABLE stats_adjustments (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id        bigint NOT NULL,      -- no foreign key: the record outlives a removed row
    registration_no    text,
    year               smallint NOT NULL,
    made_in            smallint NOT NULL,
    at                 timestamptz NOT NULL DEFAULT now(),
    kind               text NOT NULL CHECK (kind IN ('registration', 'cancellation', 'amendment', 'payment', 'removal')),
    seller_region_code char(6),
    buyer_region_code  char(6),
    n                  integer NOT NULL,
    contract_fen       bigint NOT NULL,
    technical_fen      bigint NOT NULL,
    received_fen       bigint NOT NULL,
    before             jsonb,
    after              jsonb
);
COMMENT ON TABLE stats_adjustments IS
    'Changes to the figures of a closed year after its close (made_in: the year, in China, the change was made); written by the statistics trigger.';
CREATE INDEX stats_adjustments_year_idx ON stats_adjustments (year, id);
CREATE INDEX stats_adjustments_made_in_idx ON stats_adjustments (made_in, year);
REVOKE UPDATE, DELETE, TRUNCATE ON stats_adjustments, stats_closed_figures FROM yizhan_app;
