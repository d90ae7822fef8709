-- link_profile(target): one row summing up the backlinks of a domain or host, also when it
-- has none (then counts are 0 and shares null). Columns: target (as matched: lowercase, no
-- trailing dot), backlinks, referring_domains, referring_hosts, referring_pages,
-- dofollow_share and sitewide_share (of backlinks), top_anchors (up to 5 non-empty, most
-- used first), authority (0-100: the target's own, as a domain, else as a host; null when
-- it is not in the graph), first_seen, last_seen.
create or replace macro link_profile(target) as table
select
    (select target_name(target)) as target,
    count(*) as backlinks,
    count(distinct src_domain) as referring_domains,
    count(distinct src_host) as referring_hosts,
    count(distinct src_url) as referring_pages,
    round(count(*) filter (where dofollow) / nullif(count(*), 0), 3) as dofollow_share,
    round(count(*) filter (where sitewide) / nullif(count(*), 0), 3) as sitewide_share,
    top_anchor_list(histogram(anchor) filter (where anchor <> ''), 5) as top_anchors,
    target_authority(target) as authority,
    min(crawl) as first_seen,
    max(crawl) as last_seen
from target_backlinks(target);
