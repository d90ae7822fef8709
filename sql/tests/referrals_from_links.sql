-- referrals is the external links grouped by (dst_domain, src_domain), as referring_domains
-- counted them from the links before the table existed: the same pairs, and per pair the
-- distinct pages, links, dofollow and nofollow links, sitewide, distinct hosts, the top 3
-- non-empty anchors (most used first, ties in anchor order), the first and last crawl, and
-- the referring domain's authority.
with from_links as (
    select
        dst_domain,
        src_domain as referring_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        bool_or(sitewide) as sitewide,
        count(distinct src_host) as referring_hosts,
        top_anchor_list(histogram(anchor) filter (where anchor <> ''), 3) as top_anchors,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from external_links
    group by dst_domain, src_domain
)

select
    coalesce(l.dst_domain, r.dst_domain) as dst_domain,
    coalesce(l.referring_domain, r.referring_domain) as referring_domain,
    l.links as link_rows, r.links as referral_links,
    l.top_anchors as link_anchors, r.top_anchors as referral_anchors
from from_links as l
full outer join referrals as r
    on l.dst_domain = r.dst_domain and l.referring_domain = r.referring_domain
left join domains as d on d.domain = coalesce(l.referring_domain, r.referring_domain)
where l.links is null or r.links is null
   or l.pages <> r.pages
   or l.links <> r.links
   or l.dofollow_links <> r.dofollow_links
   or l.nofollow_links <> r.nofollow_links
   or l.sitewide <> r.sitewide
   or l.referring_hosts <> r.referring_hosts
   or l.top_anchors <> r.top_anchors
   or l.first_seen <> r.first_seen
   or l.last_seen <> r.last_seen
   or r.authority is distinct from d.authority;
