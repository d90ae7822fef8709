-- referring_hosts(target): one row per host (of another registered domain) linking to a
-- domain or host, with its authority (0-100, in the host graph).
-- Order: highest authority first, then most linking pages, then most dofollow links.
create or replace macro referring_hosts(target) as table
with per_host as (
    select
        src_host as referring_host,
        any_value(src_domain) as referring_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from target_backlinks(target)
    group by src_host
),

final as (
    select
        per_host.referring_host, per_host.referring_domain,
        hosts.authority,
        pages, links, dofollow_links, nofollow_links, first_seen, last_seen
    from per_host
    left join hosts on hosts.host = per_host.referring_host
)

select * from final
order by authority desc, pages desc, dofollow_links desc, links desc, referring_host;
