-- link_profile(target): one row summing up the backlinks of a domain or host, also when it
-- has none (then counts are 0 and shares null). Columns: target (as matched: lowercase, no
-- trailing dot), backlinks, referring_domains, referring_hosts, referring_pages,
-- dofollow_share and sitewide_share (of backlinks), top_anchors (up to 5 non-empty, most
-- used first), authority (0-100: the target's own, as a domain, else as a host; null when
-- it is not in the graph), first_seen, last_seen.
--
-- A registered domain's counts were made at aggregation (the domain_profiles table): its
-- profile is one row read, not every link into it. Any other target (a host that is not a
-- registered domain, or a name without backlinks) is counted from its links, the same way;
-- `dst_domain <> target` keeps that branch from reading a domain target's links at all.
create or replace macro link_profile(target) as table
with from_links as (
    select
        1 as branch,
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
    from target_backlinks(target)
    where dst_domain <> target_name(target)
),

from_profile as (
    select
        0 as branch,
        (select target_name(target)) as target,
        backlinks, referring_domains, referring_hosts, referring_pages,
        round(dofollow_links / nullif(backlinks, 0), 3) as dofollow_share,
        round(sitewide_links / nullif(backlinks, 0), 3) as sitewide_share,
        top_anchors,
        target_authority(target) as authority,
        first_seen, last_seen
    from target_profile(target)
)

select * exclude (branch)
from (select * from from_profile union all select * from from_links)
order by branch
limit 1;
