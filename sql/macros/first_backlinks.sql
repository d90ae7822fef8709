-- first_backlinks(target, n): the first n rows of backlinks(target), in its order (dofollow
-- first, then referring domains with the most linking pages, then URL): the same rows as
-- `select * from backlinks(target) limit n`, for a screen or a page of them.
--
-- backlinks(target) must order every link of the target to find its first rows: about a
-- second for a domain with half a million backlinks. For a registered domain this reads
-- only the links of the referring domains that can hold the first n rows: the n with the
-- most linking pages among those with a dofollow link, and the n among those with another
-- link (each such domain holds at least one row of its kind, so the first n rows of each
-- kind come from them), taken from the referrals table, whose pages are the domain_pages of
-- backlinks. A host that is not a registered domain (blog.example.com) is ordered from its
-- links, as backlinks does (`dst_domain <> target` keeps that branch off a domain target's
-- links). n = null gives every row.
create or replace macro first_backlinks(target, n) as table
with leaders as (
    (select referring_domain, pages from target_referrals(target)
     where dofollow_links > 0
     order by pages desc, referring_domain
     limit n)
    union
    (select referring_domain, pages from target_referrals(target)
     where links > dofollow_links
     order by pages desc, referring_domain
     limit n)
),

from_referrals as (
    select
        l.src_url, l.src_domain, l.dst_url, l.anchor, l.link_type, l.context,
        l.nofollow, l.ugc, l.sponsored, l.dofollow,
        l.sitewide,
        l.crawl, l.fetch_time, l.src_host, l.dst_host, l.dst_domain,
        leaders.pages as domain_pages
    from target_backlinks(target) as l
    inner join leaders on leaders.referring_domain = l.src_domain
    where l.dst_domain = target_name(target)
),

from_links as (
    select
        src_url, src_domain, dst_url, anchor, link_type, context,
        nofollow, ugc, sponsored, dofollow,
        sitewide,
        crawl, fetch_time, src_host, dst_host, dst_domain,
        count(distinct src_url) over (partition by src_domain) as domain_pages
    from target_backlinks(target)
    where dst_domain <> target_name(target)
),

final as (
    select * from from_referrals
    union all
    select * from from_links
)

select * exclude (domain_pages)
from final
order by dofollow desc, domain_pages desc, src_domain, src_url, dst_url, anchor, link_type,
    context, crawl, fetch_time, nofollow, ugc, sponsored
limit n;
