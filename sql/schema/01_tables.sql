-- cc-backlinks: the graph tables. Applied first to every database `backlinks run` publishes;
-- the rows come from the Parquet aggregates in <data_dir>/graph/.
-- Table and column names are a contract (see docs/sql.md); add columns, never rename.

-- pages: one crawled page per crawl: an HTML page (200) or a redirect (3xx with Location);
-- the latest capture when a URL was crawled twice.
create table pages (
    crawl           varchar not null,   -- CC-MAIN-YYYY-WW, or 'local'
    url             varchar not null,   -- the page URL (WHATWG-serialized, no fragment)
    host            varchar not null,   -- lowercase, punycode, no port
    domain          varchar not null,   -- registered domain (Public Suffix List)
    fetch_time      timestamptz not null,
    status          smallint not null,  -- HTTP status: 200 (HTML page) or 3xx (redirect)
    links_internal  integer not null,   -- links to the page's own registered domain
    links_external  integer not null,   -- links to other registered domains
    robots_nofollow boolean not null,   -- meta robots or X-Robots-Tag said nofollow
    truncated       boolean not null    -- payload longer than max_html_bytes, parsed in part
);

-- links: one link occurrence whose target host differs from its source host.
create table links (
    crawl      varchar not null,
    src_url    varchar not null,
    src_host   varchar not null,
    src_domain varchar not null,
    dst_url    varchar not null,
    dst_host   varchar not null,
    dst_domain varchar not null,
    anchor     varchar not null,   -- visible text, whitespace collapsed, at most 256 chars
    link_type  varchar not null,   -- a | img | area | canonical | refresh | redirect
    context    varchar not null,   -- nav | header | footer | aside | body | head | http | unknown
    nofollow   boolean not null,   -- rel=nofollow, or the page is robots-nofollow
    ugc        boolean not null,
    sponsored  boolean not null,
    external   boolean not null,   -- src_domain <> dst_domain
    sitewide   boolean not null,   -- the source host links to dst_domain from most of its pages
    fetch_time timestamptz not null,
    dofollow   boolean not null    -- not (nofollow or ugc or sponsored): passes authority
);

-- host_edges: one row per (src_host, dst_host), src_host <> dst_host.
create table host_edges (
    src_host       varchar not null,
    dst_host       varchar not null,
    src_domain     varchar not null,
    dst_domain     varchar not null,
    links          bigint not null,   -- link occurrences
    pages          bigint not null,   -- distinct source pages
    nofollow_links bigint not null,
    first_seen     varchar not null,  -- first crawl id with this edge
    last_seen      varchar not null,  -- last crawl id with this edge
    sitewide       boolean not null   -- src_host links to dst_domain sitewide (see links)
);

-- domain_edges: one row per (src_domain, dst_domain), src_domain <> dst_domain.
create table domain_edges (
    src_domain     varchar not null,
    dst_domain     varchar not null,
    links          bigint not null,
    pages          bigint not null,
    src_hosts      bigint not null,   -- distinct source hosts
    nofollow_links bigint not null,
    first_seen     varchar not null,
    last_seen      varchar not null
);

-- hosts: one row per host seen as a source or a target, with its authority in the host
-- graph (host_edges, unweighted unless the rank_weighted setting).
create table hosts (
    host              varchar not null,
    domain            varchar not null,
    pages_crawled     bigint not null,   -- its rows in pages: one per crawl and URL, redirects included
    out_hosts         bigint not null,   -- distinct hosts it links to
    in_hosts          bigint not null,   -- distinct hosts linking to it
    in_domains        bigint not null,   -- distinct other registered domains linking to it
    -- the five rank columns are null when the graph was aggregated with ranks = false
    pagerank          double,   -- PageRank, damping 0.85; sums to 1 over all hosts
    harmonic          double,   -- harmonic centrality (exact, or estimated: docs/sql.md)
    pagerank_position bigint,   -- 1 = highest PageRank; ties share a position
    harmonic_position bigint,   -- 1 = highest harmonic centrality
    authority         double    -- 0-100: share of other hosts with lower harmonic
);

-- domains: one row per registered domain of the hosts, with its authority in the domain
-- graph (domain_edges).
create table domains (
    domain            varchar not null,
    hosts             bigint not null,   -- its hosts in the graph
    pages_crawled     bigint not null,   -- crawled pages of its hosts
    out_domains       bigint not null,   -- distinct other domains it links to
    in_domains        bigint not null,   -- distinct other domains linking to it
    pagerank          double,   -- null with ranks = false, as in hosts
    harmonic          double,
    pagerank_position bigint,
    harmonic_position bigint,
    authority         double    -- 0-100: share of other domains with lower harmonic
);

-- crawls: one row per crawl in the graph ('local' for files without a crawl id). Runs over
-- several crawls accumulate: each crawl's parts stay in the data folder.
create table crawls (
    crawl          varchar not null,
    pages          bigint not null,       -- rows of pages
    hosts          bigint not null,       -- distinct crawled hosts
    links          bigint not null,       -- rows of links
    external_links bigint not null,       -- of which external (backlinks)
    first_fetch    timestamptz not null,  -- earliest capture
    last_fetch     timestamptz not null   -- latest capture
);

-- referrals: one row per (target domain, referring domain) of the external links, counted
-- once at aggregation: the rows of referring_domains('<domain>'), which reads them instead of
-- every link into the domain (a host target still aggregates its links). Sorted by
-- dst_domain, then as referring_domains lists them.
create table referrals (
    dst_domain       varchar not null,   -- the registered domain linked to
    referring_domain varchar not null,   -- the registered domain linking to it
    pages            bigint not null,    -- distinct linking pages
    links            bigint not null,
    dofollow_links   bigint not null,
    nofollow_links   bigint not null,
    sitewide         boolean not null,   -- some host of it links to dst_domain sitewide
    referring_hosts  bigint not null,    -- distinct linking hosts
    top_anchors      varchar[] not null, -- up to 3 non-empty anchors, most used first
    first_seen       varchar not null,   -- first crawl id with such a link
    last_seen        varchar not null,
    authority        double              -- the referring domain's (domains.authority)
);

-- domain_profiles: one row per registered domain with external links into it, counted once
-- at aggregation: the counts of link_profile('<domain>'), which reads this row instead of
-- every link into the domain (a host target still aggregates its links).
create table domain_profiles (
    dst_domain        varchar not null,
    backlinks         bigint not null,    -- external links into it
    referring_domains bigint not null,
    referring_hosts   bigint not null,
    referring_pages   bigint not null,    -- distinct linking pages
    dofollow_links    bigint not null,
    sitewide_links    bigint not null,
    top_anchors       varchar[] not null, -- up to 5 non-empty anchors, most used first
    first_seen        varchar not null,
    last_seen         varchar not null
);

-- runs: one row per `backlinks run` (flow run) that published this database or an older one.
create table runs (
    run_id        varchar not null,
    started       timestamptz not null,
    finished      timestamptz not null,
    status        varchar not null,   -- complete | partial (some inputs failed)
    inputs        integer not null,   -- inputs named by the run
    inputs_reused integer not null,   -- inputs whose complete part was already there
    records       bigint not null,    -- WARC records read by this run
    pages         bigint not null,    -- HTML pages extracted by this run
    links         bigint not null,    -- link rows stored by this run
    failed_inputs varchar[] not null, -- inputs that failed for good, with the reason
    skipped       json not null,      -- counters: skipped records, rejected links, limits, damage
    settings      json not null       -- the settings of the run
);

-- storage: one row: where the graph's files are and what this database holds of them.
create table storage (
    data_location varchar not null,   -- the data folder, or s3://BUCKET/PREFIX
    graph         varchar not null,   -- the graph's folder in it (graph, or graphs/<id>)
    database      varchar not null,   -- tables (rows copied in) | views (over the Parquet)
    endpoint_url  varchar not null,   -- S3-compatible endpoint; '' for AWS or local data
    region        varchar not null    -- S3 region; '' for local data
);
