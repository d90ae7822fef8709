-- link_types(target): the backlinks of a domain or host broken down by link type
-- (a, img, area, canonical, refresh, redirect). One row per type present.
-- Columns: link_type, links, share (of the target's backlinks), referring_domains,
-- dofollow_links. Order: most links first.
create or replace macro link_types(target) as table
with final as (
    select
        link_type,
        count(*) as links,
        round(count(*) / sum(count(*)) over (), 3) as share,
        count(distinct src_domain) as referring_domains,
        count(*) filter (where dofollow) as dofollow_links
    from target_backlinks(target)
    group by link_type
)

select * from final
order by links desc, link_type;
