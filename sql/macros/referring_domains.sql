-- referring_domains(target): one row per registered domain linking to a domain or host.
-- Columns: referring_domain, authority (0-100, of the referring domain), pages (distinct
-- linking pages), links, dofollow_links, nofollow_links, dofollow_share (of links),
-- sitewide (some host of it links sitewide), referring_hosts, top_anchors (up to 3
-- non-empty, most used first), first_seen, last_seen.
-- Order: highest authority first, then most linking pages, then most dofollow links.
--
-- A registered domain's rows were counted at aggregation (the referrals table): a domain
-- with a million backlinks reads its referring domains, not its links. A host that is not a
-- registered domain (blog.example.com) is aggregated from its links here, the same way;
-- `dst_domain <> target` keeps that branch from reading a domain target's links at all
-- (its row groups hold that one dst_domain, so their statistics rule them out).
create or replace macro referring_domains(target) as table
with per_domain as (
    select
        src_domain as referring_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        bool_or(sitewide) as sitewide,
        count(distinct src_host) as referring_hosts,
        -- anchor -> uses, in one pass (a second grouping by anchor and a join cost twice
        -- as much on popular targets)
        histogram(anchor) filter (where anchor <> '') as anchor_uses,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from target_backlinks(target)
    where dst_domain <> target_name(target)
    group by src_domain
),

from_links as (
    select
        per_domain.referring_domain,
        domains.authority,
        pages, links, dofollow_links, nofollow_links,
        round(dofollow_links / links, 3) as dofollow_share,
        sitewide, referring_hosts,
        top_anchor_list(anchor_uses, 3) as top_anchors,
        first_seen, last_seen
    from per_domain
    left join domains on domains.domain = per_domain.referring_domain
),

from_referrals as (
    select
        referring_domain, authority,
        pages, links, dofollow_links, nofollow_links,
        round(dofollow_links / links, 3) as dofollow_share,
        sitewide, referring_hosts, top_anchors, first_seen, last_seen
    from target_referrals(target)
),

final as (
    select * from from_referrals
    union all
    select * from from_links
)

select * from final
order by authority desc, pages desc, dofollow_links desc, links desc, referring_domain;
