-- referring_hosts(target): one row per host (of another registered domain) linking to a
-- domain or host. Order: most linking pages first, then most dofollow links.
create or replace macro referring_hosts(target) as table
with matching as (
    select *
    from links
    where external
      and matches_target(dst_domain, dst_host, target)
),

final as (
    select
        src_host as referring_host,
        any_value(src_domain) as referring_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where not (nofollow or ugc or sponsored)) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from matching
    group by src_host
)

select * from final
order by pages desc, dofollow_links desc, links desc, referring_host;
