-- domain_edges is the external links grouped by (src_domain, dst_domain): the same pairs,
-- and per pair the links, distinct pages, distinct source hosts and nofollow links.
with from_links as (
    select
        src_domain, dst_domain,
        count(*) as links,
        count(distinct src_url) as pages,
        count(distinct src_host) as src_hosts,
        count(*) filter (where nofollow) as nofollow_links
    from external_links
    group by src_domain, dst_domain
)

select
    coalesce(l.src_domain, e.src_domain) as src_domain,
    coalesce(l.dst_domain, e.dst_domain) as dst_domain,
    l.links as link_rows, e.links as edge_links,
    l.pages as link_pages, e.pages as edge_pages
from from_links as l
full outer join domain_edges as e
    on l.src_domain = e.src_domain and l.dst_domain = e.dst_domain
where l.links is distinct from e.links
   or l.pages is distinct from e.pages
   or l.src_hosts is distinct from e.src_hosts
   or l.nofollow_links is distinct from e.nofollow_links;
