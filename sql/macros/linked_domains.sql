-- linked_domains(source): one row per registered domain that a domain or host links to
-- (the outbound side). source matches src_domain or src_host, any case.
-- Order: most linking pages first, then most links.
create or replace macro linked_domains(source) as table
with matching as (
    select *
    from external_links
    where matches_target(src_domain, src_host, source)
),

final as (
    select
        dst_domain as linked_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        count(distinct dst_host) as linked_hosts,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from matching
    group by dst_domain
)

select * from final
order by pages desc, links desc, linked_domain;
