-- backlinks(target): one row per backlink (external link occurrence) to a domain or host.
-- target matches dst_domain or dst_host ('example.com', 'blog.example.com'), any case.
-- Order: dofollow first, then referring domains with the most linking pages, then URL.
create or replace macro backlinks(target) as table
with weighted as (
    select
        *,
        count(distinct src_url) over (partition by src_domain) as domain_pages
    from target_backlinks(target)
),

final as (
    select
        src_url, src_domain, dst_url, anchor, link_type, context,
        nofollow, ugc, sponsored, dofollow,
        sitewide,
        crawl, fetch_time, src_host, dst_host, dst_domain, domain_pages
    from weighted
)

select * exclude (domain_pages)
from final
order by dofollow desc, domain_pages desc, src_domain, src_url, dst_url, anchor, link_type,
    context, crawl, fetch_time, nofollow, ugc, sponsored;
