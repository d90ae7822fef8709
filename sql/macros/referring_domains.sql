-- referring_domains(target): one row per registered domain linking to a domain or host.
-- Columns: referring_domain, pages (distinct linking pages), links, dofollow_links,
-- nofollow_links, referring_hosts, top_anchors (up to 3 non-empty, most used first),
-- first_seen, last_seen. Order: most linking pages first, then most dofollow links.
create or replace macro referring_domains(target) as table
with matching as (
    select *
    from links
    where external
      and matches_target(dst_domain, dst_host, target)
),

per_domain as (
    select
        src_domain as referring_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where not (nofollow or ugc or sponsored)) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        count(distinct src_host) as referring_hosts,
        -- anchor -> uses, in one pass (a second grouping by anchor and a join cost twice
        -- as much on popular targets)
        histogram(anchor) filter (where anchor <> '') as anchor_uses,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from matching
    group by src_domain
),

final as (
    select
        referring_domain, pages, links, dofollow_links, nofollow_links, referring_hosts,
        coalesce(
            list_transform(
                list_sort(
                    list_transform(map_entries(anchor_uses), e -> {'uses': -e.value, 'anchor': e.key})
                )[1:3],
                x -> x.anchor
            ),
            []
        ) as top_anchors,
        first_seen, last_seen
    from per_domain
)

select * from final
order by pages desc, dofollow_links desc, links desc, referring_domain;
