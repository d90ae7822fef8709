-- anchors(target): one row per anchor text of the backlinks of a domain or host ('' is
-- the empty anchor). Order: used by the most referring domains first, then most links.
create or replace macro anchors(target) as table
with matching as (
    select *
    from links
    where external
      and dst_domain in (
            lower(trim(target, '. ')), target_suffix(target, 2), target_suffix(target, 3),
            target_suffix(target, 4), target_suffix(target, 5), target_suffix(target, 6)
        )
      and (dst_domain = lower(trim(target, '. ')) or dst_host = lower(trim(target, '. ')))
),

final as (
    select
        anchor,
        count(distinct src_domain) as referring_domains,
        count(*) as links,
        count(*) filter (where not (nofollow or ugc or sponsored)) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        list(distinct link_type order by link_type) as link_types
    from matching
    group by anchor
)

select * from final
order by referring_domains desc, links desc, anchor;
