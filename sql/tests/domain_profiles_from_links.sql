-- domain_profiles is the external links grouped by dst_domain, as link_profile counted them
-- from the links before the table existed: the same domains, and per domain the links,
-- distinct referring domains, hosts and pages, dofollow and sitewide links, the top 5
-- non-empty anchors (most used first, ties in anchor order) and the first and last crawl.
with from_links as (
    select
        dst_domain,
        count(*) as backlinks,
        count(distinct src_domain) as referring_domains,
        count(distinct src_host) as referring_hosts,
        count(distinct src_url) as referring_pages,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where sitewide) as sitewide_links,
        top_anchor_list(histogram(anchor) filter (where anchor <> ''), 5) as top_anchors,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from external_links
    group by dst_domain
)

select
    coalesce(l.dst_domain, p.dst_domain) as dst_domain,
    l.backlinks as link_rows, p.backlinks as profile_backlinks,
    l.top_anchors as link_anchors, p.top_anchors as profile_anchors
from from_links as l
full outer join domain_profiles as p on l.dst_domain = p.dst_domain
where l.backlinks is null or p.backlinks is null
   or l.backlinks <> p.backlinks
   or l.referring_domains <> p.referring_domains
   or l.referring_hosts <> p.referring_hosts
   or l.referring_pages <> p.referring_pages
   or l.dofollow_links <> p.dofollow_links
   or l.sitewide_links <> p.sitewide_links
   or l.top_anchors <> p.top_anchors
   or l.first_seen <> p.first_seen
   or l.last_seen <> p.last_seen;
