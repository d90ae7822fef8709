-- anchors(target): one row per anchor text of the backlinks of a domain or host ('' is
-- the empty anchor). Order: used by the most referring domains first, then most links.
create or replace macro anchors(target) as table
with final as (
    select
        anchor,
        count(distinct src_domain) as referring_domains,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        list(distinct link_type order by link_type) as link_types
    from target_backlinks(target)
    group by anchor
)

select * from final
order by referring_domains desc, links desc, anchor;
