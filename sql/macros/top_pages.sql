-- top_pages(target): one row per page of a domain or host that has backlinks: its most
-- linked pages. Columns: page (the linked URL), referring_domains, links, dofollow_links,
-- top_anchors (up to 3 non-empty), first_seen, last_seen.
-- Order: most referring domains first, then most links, then URL.
create or replace macro top_pages(target) as table
with final as (
    select
        dst_url as page,
        count(distinct src_domain) as referring_domains,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        top_anchor_list(histogram(anchor) filter (where anchor <> ''), 3) as top_anchors,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from target_backlinks(target)
    group by dst_url
)

select * from final
order by referring_domains desc, links desc, page;
